"""HTML to PDF with a headless Chromium (Debian's ``chromium``) on the PATH, when
there is one: the printable report is the same page a browser prints."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

#: The executables tried, in order.
BROWSERS = ("chromium", "chromium-browser")


class PdfUnavailable(RuntimeError):
    """No browser to render with, or it failed (the API answers 503)."""


def browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


async def html_to_pdf(html: str, timeout_s: float = 60.0) -> bytes:
    exe = browser()
    if exe is None:
        raise PdfUnavailable("PDF needs Chromium on the server's PATH (Debian: apt install chromium); "
                             "format=html gives the same report to print from a browser")
    with tempfile.TemporaryDirectory(prefix="icv-report-") as tmp:
        src, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        src.write_text(html, encoding="utf-8")
        # A profile of its own: several renders (or a browser test) may run at once.
        proc = await asyncio.create_subprocess_exec(
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
            f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", f"--print-to-pdf={out}", src.as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise PdfUnavailable(f"Chromium did not render the report within {timeout_s:g} s") from None
        if proc.returncode != 0 or not out.is_file():
            tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            raise PdfUnavailable(f"Chromium failed to render the report (exit {proc.returncode}) {' '.join(tail)}")
        return out.read_bytes()
