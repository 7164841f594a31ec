"""One hub process's escalation run, for the restart test: reads its arguments as JSON
on stdin (the graph connection, the SMTP and webhook addresses, the instant, the
agreement), runs `hub.sync.escalations.escalate` once, prints the report as JSON and
exits, as a hub stopped after one run of the job would."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from escalation_support import policy
from notify_support import hub_settings

from hub.graph.client import Graph, GraphConnection
from hub.sync.escalations import escalate


async def main() -> None:
    args = json.load(sys.stdin)
    settings = hub_settings(webhook_url=args["webhookUrl"], smtp=args["smtp"], lists=args["lists"])
    settings = settings.model_copy(update={"remediation": policy(*args["recipients"])})
    graph = Graph.connect(GraphConnection(**args["connection"]))
    try:
        report = await escalate(
            graph,
            settings,
            datetime.fromisoformat(args["now"]),
            agreement_ids=[args["agreementId"]],
        )
    finally:
        await graph.close()
    print(json.dumps({"escalated": report.escalated, "notified": report.notified}))


if __name__ == "__main__":
    asyncio.run(main())
