/** Resources with break-glass: who may use it, for how long, reviewed by whom. */
export const PEOPLE_CONFIG = `
timezone: UTC
admins: [UADMIN, UADMIN2]
requests:
  pendingTimeout: 24h
  approverChannel: CAPPROVALS
  maxPendingPerUser: 1
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
resources:
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD, UONCALL], usergroups: [SDBA] }
    approverChannel: CDBA
    requireTicket: true
    ticketPattern: '^INC-[0-9]+$'
    breakGlass: { users: [UONCALL], usergroups: [SSRE], maxDuration: 1h }
  - id: billing
    name: Billing console
    provider: hook
    maxDuration: 2h
    approvers: { users: [ULEAD] }
    breakGlass: { users: [UONCALL], maxDuration: 30m, reviewWithin: 2h }
  - id: plain
    name: No break-glass
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
`;
