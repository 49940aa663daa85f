export const USAGE = `Usage: hallpass <command> [options]

  init [--admin U…] [--approver-channel C…] [--channel C…] [--timezone TZ] [--file F] [--force] [--yes]
                                   write a minimal hallpass.yml (asks for what the flags leave out)
  policy check [file]              validate hallpass.yml (default: $HALLPASS_CONFIG or ./hallpass.yml)
  policy explain --user U… --resource R [--as-of DATE]
                                   what /jit explain says to that person: now, or under the rules
                                   recorded then; exit 1 when a rule stops them (--user ci:…:
                                   a pipeline, answered from the pipelines rules)
  audit verify [--anchor SEQ:HASH]  walk the audit hash chain; exit 1 on a break
  audit verify --since-verified    only the rows after the head the bot verified (seal checked)
  audit export [--since DATE] [--until DATE] [--format csv|jsonl] [--out FILE]
                                   every audit event in [since, until), oldest first
  audit show <grant-id|request-id> the story of one grant, or of a request that made none
  audit reset-checkpoint [--anchor SEQ:HASH]
                                   after a break: a new verified head once a full walk is intact
  grants list [--active] [--user U…] [--resource R…] [--limit N]
  grants revoke <grant-id> --reason TEXT
                                   break-glass: end a grant when Slack is unreachable
  grants close <grant-id> --reason TEXT
                                   a grant whose provider was removed or moved: mark it for
                                   manual clean-up
  grants reconcile [--dry-run]     read grants back from their providers; repair drift (exit 1 on drift)
  digest --print                   the digest of the last 7 days, as text
  db copy [--to postgres://…]      copy the SQLite database into an empty PostgreSQL one, checked
                                   (HALLPASS_DATABASE_URL's, or --to's, which must hold no password)
  db backup <file>                 online copy of the SQLite database (the bot may run), verified
  tokens create --identity ci:NAME --resource R [--resource R…] [--note TEXT] [--expires-in 90d]
                                   an API token for a pipeline, printed once
  tokens list [--all]              live API tokens (--all: revoked and expired too)
  tokens revoke <tok_…> [--end-grants]
                                   stop a token now; its undecided requests are cancelled
                                   (--end-grants: the access obtained with it ends too)
  request <resource> <duration> --reason TEXT [--ticket T] [--wait] [--timeout 10m]
                                   ask the API for access (HALLPASS_URL, HALLPASS_TOKEN); prints
                                   the request as JSON; exit 0 granted, 3 denied, 4 undecided
  help                             this text

DATE is YYYY-MM-DD (midnight UTC) or ISO-8601 (UTC unless it has an offset).
Environment: HALLPASS_DB (default ./data/hallpass.db), HALLPASS_DATABASE_URL (postgres://…: use
PostgreSQL instead of the SQLite file), HALLPASS_CONFIG (default ./hallpass.yml),
HALLPASS_BUSY_TIMEOUT_MS (default 2000: how long to wait for a locked database).
Exit codes: 0 ok, 1 a problem was found or the command failed, 2 usage error.
`;
