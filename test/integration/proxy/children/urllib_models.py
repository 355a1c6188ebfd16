# An unmodified Python agent using only the standard library (urllib.request): proxy and trust from the environment.
import json
import os
import urllib.request

key = os.environ["OPENAI_API_KEY"]
req = urllib.request.Request("https://api.openai.com/v1/models", headers={"Authorization": "Bearer " + key})
with urllib.request.urlopen(req, timeout=15) as r:
    print(json.dumps({"status": r.status, "object": json.loads(r.read()).get("object"), "sent": key}))
