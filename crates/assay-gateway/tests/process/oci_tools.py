"""Third-party views of what `assay push ... oci://` wrote, for the registry tests.

  inspect HOST REPO TAG CA USER PASSWORD
      ORAS's Python SDK lists the tags, pulls the release, and follows the referrers tag
      schema to the signature; prints what it found as JSON.
  forge HOST REPO TAG CA USER PASSWORD NEWTAG
      Writes, with plain registry calls, a manifest at NEWTAG that lists one more file than
      the release at TAG was signed with, and attaches TAG's genuine signature to it: what a
      hostile registry (or a hostile pusher) could serve.
"""
import functools
import hashlib
import json
import os
import sys
import tempfile
from urllib.parse import urljoin

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def inspect(host, repo, tag, ca, user, pw):
    import oras.client

    c = oras.client.OrasClient(hostname=host, tls_verify=ca, auth_backend="basic")
    c.login(username=user, password=pw, hostname=host)
    out = tempfile.mkdtemp()
    files = c.pull(target=f"{host}/{repo}:{tag}", outdir=out)
    m = c.get_manifest(f"{host}/{repo}:{tag}")
    head = c.do_request(
        f"https://{host}/v2/{repo}/manifests/{tag}", "HEAD", headers={"Accept": MANIFEST}
    )
    d = head.headers["Docker-Content-Digest"]
    idx = c.get_manifest(f"{host}/{repo}:{d.replace(':', '-')}", allowed_media_type=[INDEX])
    sigs = [e for e in idx["manifests"] if e.get("artifactType") == BUNDLE]
    ref = c.get_manifest(f"{host}/{repo}@{sigs[0]['digest']}")
    bundle = c.get_blob(f"{host}/{repo}", ref["layers"][0]["digest"]).content
    print(json.dumps({
        "tags": c.get_tags(f"{host}/{repo}"),
        "files": {
            os.path.relpath(f, out): hashlib.sha256(open(f, "rb").read()).hexdigest()
            for f in files
        },
        "artifact_type": m.get("artifactType"),
        "layer_media_types": sorted(l["mediaType"] for l in m["layers"]),
        "digest": d,
        "signatures": len(sigs),
        "subject": ref["subject"]["digest"],
        "bundle_sha256": hashlib.sha256(bundle).hexdigest(),
    }))


def forge(host, repo, tag, ca, user, pw, newtag):
    import requests

    s = requests.Session()
    # Per request: requests lets $REQUESTS_CA_BUNDLE override a session's own `verify`.
    s.auth = (user, pw)
    s.request = functools.partial(s.request, verify=ca)
    base = f"https://{host}/v2/{repo}"
    r = s.get(f"{base}/manifests/{tag}", headers={"Accept": MANIFEST})
    r.raise_for_status()
    old_digest, m = digest(r.content), json.loads(r.content)

    extra = b"a file nobody signed\n"
    r = s.post(f"{base}/blobs/uploads/")
    r.raise_for_status()
    url = urljoin(f"https://{host}", r.headers["Location"])
    sep = "&" if "?" in url else "?"
    s.put(f"{url}{sep}digest={digest(extra)}", data=extra,
          headers={"Content-Type": "application/octet-stream"}).raise_for_status()
    m["layers"].append({
        "mediaType": "application/vnd.cncf.model.weight.config.v1.raw",
        "digest": digest(extra),
        "size": len(extra),
        "annotations": {"org.cncf.model.filepath": "extra.txt",
                        "org.opencontainers.image.title": "extra.txt"},
    })
    new = json.dumps(m).encode()
    s.put(f"{base}/manifests/{newtag}", data=new,
          headers={"Content-Type": MANIFEST}).raise_for_status()

    idx = s.get(f"{base}/manifests/{old_digest.replace(':', '-')}", headers={"Accept": INDEX})
    idx.raise_for_status()
    ref_digest = idx.json()["manifests"][0]["digest"]
    ref = s.get(f"{base}/manifests/{ref_digest}", headers={"Accept": MANIFEST}).json()
    ref["subject"] = {"mediaType": MANIFEST, "digest": digest(new), "size": len(new)}
    rb = json.dumps(ref).encode()
    s.put(f"{base}/manifests/{digest(rb)}", data=rb,
          headers={"Content-Type": MANIFEST}).raise_for_status()
    index = {"schemaVersion": 2, "mediaType": INDEX, "manifests": [
        {"mediaType": MANIFEST, "digest": digest(rb), "size": len(rb), "artifactType": BUNDLE}]}
    s.put(f"{base}/manifests/{digest(new).replace(':', '-')}", data=json.dumps(index).encode(),
          headers={"Content-Type": INDEX}).raise_for_status()
    print(digest(new))


if __name__ == "__main__":
    {"inspect": inspect, "forge": forge}[sys.argv[1]](*sys.argv[2:])
