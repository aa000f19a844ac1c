"""`mapguard respond`: an Alertmanager webhook receiver that runs audited mitigations.

The pipeline, one module per step:

    payload     the webhook body (Alertmanager's version 4), validated; pure
    config      respond.yaml: actions, their matchers, guard rails, where the audit goes
    templates   alert labels into argument-list elements and JSON values, never into a shell
    guardrails  what to do with one alert for one action (run, dry run, or why not); pure
    actions     running a command, calling an HTTP endpoint, `kubectl scale`
    audit       every decision and outcome, in SQLite
    receiver    the HTTP server: authentication, size cap, the kill switch, dispatching
    commands    the `mapguard respond` command and `mapguard respond audit`
"""
