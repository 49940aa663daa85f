export const USAGE = `Usage: hallpass <command> [options]

  policy check [file]              validate hallpass.yml (default: $HALLPASS_CONFIG or ./hallpass.yml)
  policy explain --user U… --resource R [--as-of DATE]
                                   what /jit explain says to that person: now, or under the rules
                                   recorded then; exit 1 when a rule stops them
  audit verify [--anchor SEQ:HASH]  walk the audit hash chain; exit 1 on a break
  audit export [--since DATE] [--until DATE] [--format csv|jsonl] [--out FILE]
                                   every audit event in [since, until), oldest first
  audit show <grant-id>            the story of one grant, from its audit events
  grants list [--active] [--user U…] [--resource R…] [--limit N]
  grants revoke <grant-id> --reason TEXT
                                   break-glass: end a grant when Slack is unreachable
  grants close <grant-id> --reason TEXT
                                   a grant whose provider was removed: mark it for manual clean-up
  grants reconcile [--dry-run]     read grants back from their providers; repair drift (exit 1 on drift)
  digest --print                   the digest of the last 7 days, as text
  db copy --to postgres://…        copy the SQLite database into an empty PostgreSQL one, checked
  help                             this text

DATE is YYYY-MM-DD (midnight UTC) or ISO-8601 (UTC unless it has an offset).
Environment: HALLPASS_DB (default ./data/hallpass.db), HALLPASS_DATABASE_URL (postgres://…: use
PostgreSQL instead of the SQLite file), HALLPASS_CONFIG (default ./hallpass.yml),
HALLPASS_BUSY_TIMEOUT_MS (default 2000: how long to wait for a locked database).
Exit codes: 0 ok, 1 a problem was found or the command failed, 2 usage error.
`;
