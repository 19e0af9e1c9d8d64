"""Customer message texts per kind, in English and Simplified Chinese."""

TEMPLATES = {
    "clarification": {
        "en": ("Your order {order} needs a few details",
               "Dear {customer},\n\nto process order {order} we still need: {missing}.\nPlease reply to this message."),
        "zh": ("您的订单 {order} 需要补充信息", "尊敬的 {customer}：\n\n为处理订单 {order}，我们还需要：{missing}。\n请回复此消息。"),
    },
    "confirmation": {
        "en": ("Order {order} confirmed",
               "Dear {customer},\n\nwe confirm order {order} for {total}. Expected ship date: {ship_date}."),
        "zh": ("订单 {order} 已确认", "尊敬的 {customer}：\n\n我们确认订单 {order}，金额 {total}。预计发货日期：{ship_date}。"),
    },
    "rejection": {
        "en": ("About your order {order}",
               "Dear {customer},\n\nwe cannot accept order {order} as it stands: {reason}.\n"
               "We will contact you to find a solution."),
        "zh": ("关于您的订单 {order}", "尊敬的 {customer}：\n\n订单 {order} 目前无法接受：{reason}。\n我们将与您联系商讨解决方案。"),
    },
    "shipped": {
        "en": ("Order {order} is on its way",
               "Dear {customer},\n\nshipment {shipment} of order {order} left with {carrier}. "
               "Tracking number: {tracking}."),
        "zh": ("订单 {order} 已发货", "尊敬的 {customer}：\n\n订单 {order} 的货物 {shipment} 已交 {carrier} 承运，运单号：{tracking}。"),
    },
    "invoice": {
        "en": ("Invoice {invoice} for order {order}",
               "Dear {customer},\n\nplease find invoice {invoice} for {amount}, due on {due_date}."),
        "zh": ("订单 {order} 的发票 {invoice}", "尊敬的 {customer}：\n\n附上发票 {invoice}，金额 {amount}，付款到期日 {due_date}。"),
    },
    "reminder": {
        "en": ("Reminder {level}: invoice {invoice} is overdue",
               "Dear {customer},\n\ninvoice {invoice} over {balance} was due on {due_date}. Please pay it promptly."),
        "zh": ("第 {level} 次催款：发票 {invoice} 已逾期", "尊敬的 {customer}：\n\n发票 {invoice}（未付 {balance}）已于 {due_date} 到期，请尽快付款。"),
    },
    "follow_up": {
        "en": ("How was your order {order}?", "Dear {customer},\n\nthank you for order {order}. How did we do?"),
        "zh": ("您对订单 {order} 满意吗？", "尊敬的 {customer}：\n\n感谢您的订单 {order}。欢迎提出您的意见。"),
    },
    "exception_received": {
        "en": ("We are looking into your order {order} ({exception})",
               "Dear {customer},\n\nwe have registered a {subject} on order {order} as {exception}: {summary}\n"
               "We are working on it and will tell you how it is resolved."),
        "zh": ("我们正在处理您的订单 {order}（{exception}）",
               "尊敬的 {customer}：\n\n我们已将订单 {order} 的问题登记为 {exception}：{summary}\n我们正在处理，并会告知您处理结果。"),
    },
    "exception_resolved": {
        "en": ("{exception} on order {order} is resolved",
               "Dear {customer},\n\n{exception} on order {order} is resolved: {resolution}"),
        "zh": ("订单 {order} 的问题 {exception} 已解决", "尊敬的 {customer}：\n\n订单 {order} 的问题 {exception} 已解决：{resolution}"),
    },
    "order_cancelled": {
        "en": ("Order {order} is cancelled",
               "Dear {customer},\n\norder {order} is cancelled ({reason}). Anything you paid or were invoiced "
               "for it will be credited or refunded."),
        "zh": ("订单 {order} 已取消", "尊敬的 {customer}：\n\n订单 {order} 已取消（{reason}）。已开票或已付款的金额将冲销或退还。"),
    },
    "credit_note": {
        "en": ("Credit note {credit_note} for order {order}",
               "Dear {customer},\n\ncredit note {credit_note} takes {amount} off invoice {invoice}."),
        "zh": ("订单 {order} 的贷项通知单 {credit_note}", "尊敬的 {customer}：\n\n贷项通知单 {credit_note} 将发票 {invoice} 冲减 {amount}。"),
    },
    "refund": {
        "en": ("Refund for order {order}", "Dear {customer},\n\nwe have refunded {amount} for order {order}."),
        "zh": ("订单 {order} 的退款", "尊敬的 {customer}：\n\n我们已为订单 {order} 退款 {amount}。"),
    },
    "new_date": {
        "en": ("A new date for order {order}",
               "Dear {customer},\n\nwe are sorry: order {order} is delayed. The new date is {date}."),
        "zh": ("订单 {order} 的新日期", "尊敬的 {customer}：\n\n很抱歉，订单 {order} 将延迟。新的日期为 {date}。"),
    },
}
