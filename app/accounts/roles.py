"""The roles of Orderly. A BPMN lane's name is the role whose members may do its tasks."""

ORDER_DESK = "order_desk"
CREDIT = "credit"
WAREHOUSE = "warehouse"
PRODUCTION = "production"
LOGISTICS = "logistics"
FINANCE = "finance"
CUSTOMER_SERVICE = "customer_service"
MANAGER = "manager"
PROCESS_OWNER = "process_owner"
ADMIN = "admin"

ALL = (
    ORDER_DESK,
    CREDIT,
    WAREHOUSE,
    PRODUCTION,
    LOGISTICS,
    FINANCE,
    CUSTOMER_SERVICE,
    MANAGER,
    PROCESS_OWNER,
    ADMIN,
)

# Roles that work tasks in lanes; the others oversee.
LANE_ROLES = ALL[:8]
