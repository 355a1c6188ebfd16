# An unmodified Python agent using requests: proxy and CA bundle come from the environment. Run by real-clients.test.ts.
import json
import os
import sys

try:
    import requests
except ImportError:
    print(json.dumps({"error": "python3 cannot import requests (install python3-requests)"}))
    sys.exit(3)

r = requests.get(
    "https://api.openai.com/v1/models",
    headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
    timeout=15,
)
print(json.dumps({"status": r.status_code, "object": r.json().get("object")}))
