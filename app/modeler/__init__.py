"""Process owners change the procedures: drafts edited in the browser, checked on every save, deployed
as numbered versions, compared, exported, and tried against a scenario before staff meet them."""
