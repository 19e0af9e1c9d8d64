// The API page: Swagger UI over /api/v1/openapi.json. Nothing leaves this server: no validator badge
// (it would send the document to an outside service), no remote configuration.
(function () {
  "use strict";
  const root = document.getElementById("api-docs");
  SwaggerUIBundle({
    url: root.dataset.document,
    domNode: root,
    validatorUrl: null,
    configUrl: null,
    queryConfigEnabled: false,
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
})();
