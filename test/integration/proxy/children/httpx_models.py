# An unmodified Python agent using httpx: proxy (HTTPS_PROXY) and trust (SSL_CERT_FILE) from the environment.
import json
import os
import sys

try:
    import httpx
except ImportError:
    print(json.dumps({"error": "python3 cannot import httpx (install python3-httpx)"}))
    sys.exit(3)

key = os.environ["OPENAI_API_KEY"]
r = httpx.get("https://api.openai.com/v1/models", headers={"Authorization": "Bearer " + key}, timeout=15)
print(json.dumps({"status": r.status_code, "object": r.json().get("object"), "sent": key}))
