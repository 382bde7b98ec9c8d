"""nginx (Debian's package) serving the sample site of deploy/ on a local port, for the tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian's package (make test and make bench install it)


def nginx_config(folder: Path, port: int, upstreams: dict[str, int], sample: str = "upstreams-one-node.conf") -> Path:
    """The sample site on a local port, with the ``sample`` upstreams (their addresses replaced as ``upstreams``
    says: address → local port), inside a main configuration that keeps every file in ``folder``."""
    site = SAMPLE.read_text()
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    site = "\n".join(line for line in site.splitlines() if "ssl_certificate" not in line)
    addresses = (ROOT / "deploy" / sample).read_text()
    for address, local_port in upstreams.items():
        addresses = addresses.replace(address, f"127.0.0.1:{local_port}")
    (folder / "site.conf").write_text(addresses + site)
    temp = "".join(f"{kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                       "scgi"))
    main = folder / "nginx.conf"
    main.write_text(f"""user root;
worker_processes 1;
daemon off;
pid {folder / "nginx.pid"};
error_log {folder / "nginx-error.log"} info;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$request_method $uri $status $upstream_addr';
    access_log {folder / "nginx-access.log"} upstream;
    {temp}
    include {folder / "site.conf"};
}}
""")
    return main


def start(folder: Path, port: int, upstreams: dict[str, int], sample: str = "upstreams-one-node.conf") -> subprocess.Popen:
    """nginx in the foreground with ``nginx_config``; its own output goes to ``folder``/nginx.out."""
    config = nginx_config(folder, port, upstreams, sample)
    with open(folder / "nginx.out", "wb") as out:
        return subprocess.Popen([NGINX, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=out)
