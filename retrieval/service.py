"""A long-lived search service with hot reload (what the gateway holds).

Editors change `kb_content/` while the gateway runs. A watcher thread notices,
validates the new KB, builds a new engine in the background and swaps a single
reference: queries never wait and never see a half-built index. A KB with
errors is rejected (errors logged and exposed in `status()`) and the previous
engine keeps serving. `var/index/CURRENT` remembers the last good index so a
restart with a broken KB still serves the last good content.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from .config import RetrievalConfig, load_config
from .embedder import Embedder
from .engine import Hit, SearchEngine, SearchResult
from .kb import TAXONOMY_FILE, KBError, content_hash, load_kb
from .store import build_engine, default_cache_root

log = logging.getLogger("retrieval.service")


class RetrievalService:
    def __init__(self, kb_dir: str | Path, cache_root: Path | None = None,
                 embedder: Embedder | None = None, config: RetrievalConfig | None = None,
                 watch: bool = True, debounce_ms: int = 300):
        self.kb_dir = Path(kb_dir)
        self.cache_root = cache_root if cache_root is not None else default_cache_root()
        self.config = config or load_config()
        self._embedder = embedder
        self.watch = watch
        self.debounce_ms = debounce_ms
        self._engine: SearchEngine | None = None
        self._build_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0
        self.last_errors: list[str] = []
        self.last_reload_at: float | None = None
        self._last_tried_hash: str | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder()
        return self._embedder

    def start(self) -> RetrievalService:
        """Load or build the first engine, then start watching the KB folder."""
        if not self.reload():
            self._load_last_good()
        if self.watch and self._thread is None:
            self._thread = threading.Thread(target=self._watch_loop, name="kb-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RetrievalService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- queries -----------------------------------------------------------------------------
    @property
    def engine(self) -> SearchEngine:
        engine = self._engine
        if engine is None:
            raise RuntimeError("the FAQ index is not loaded: " + "; ".join(self.last_errors))
        return engine

    @property
    def ready(self) -> bool:
        return self._engine is not None

    def search(self, query: str, lang: str | None = None, k: int = 3) -> SearchResult:
        return self.engine.search(query, lang=lang, k=k)

    def entry(self, entry_id: str) -> Hit | None:
        """The entry with this id in the current index (None if it no longer exists)."""
        return self.engine.entry(entry_id)

    def variants(self, entry_id: str) -> dict[str, str]:
        return self.engine.variants(entry_id)

    def status(self) -> dict:
        engine = self._engine
        return {
            "ready": engine is not None,
            "index_version": engine.version if engine else None,
            "entries": engine.info.get("entries") if engine else 0,
            "model": engine.info.get("model") if engine else None,
            "thresholds": engine.info.get("thresholds") if engine else None,
            "reloads": self.reloads,
            "last_reload_at": self.last_reload_at,
            "kb_errors": list(self.last_errors),
        }

    # ---- reloads -----------------------------------------------------------------------------
    def reload(self) -> bool:
        """Validate and build the KB now; swap only if everything succeeded."""
        with self._build_lock:
            try:
                kb = load_kb(self.kb_dir)
                engine = build_engine(kb, self.embedder, self.config, cache_root=self.cache_root)
            except KBError as exc:
                self.last_errors = [str(p) for p in exc.problems]
                for p in exc.problems:
                    log.error("KB rejected, still serving the previous index: %s", p)
                return False
            except Exception as exc:  # a bad build must never take the service down
                self.last_errors = [f"index build failed: {exc!r}"]
                log.exception("index build failed, still serving the previous index")
                return False
            self._engine = engine  # atomic reference swap
            self.last_errors = []
            self.reloads += 1
            self.last_reload_at = time.time()
            self._remember(engine.version)
            log.info("FAQ index %s serving %s entries", engine.version, engine.info["entries"])
            return True

    def _remember(self, key: str) -> None:
        self.cache_root.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_root / "CURRENT.tmp"
        tmp.write_text(key)
        tmp.replace(self.cache_root / "CURRENT")

    def _load_last_good(self) -> None:
        """Serve the last good index when the KB on disk is broken at start-up."""
        from .store import load_engine_folder

        current = self.cache_root / "CURRENT"
        if not current.exists():
            return
        try:
            self._engine = load_engine_folder(self.cache_root / current.read_text().strip(),
                                              self.embedder, self.config)
            log.warning("KB has errors; serving the last good index %s", self._engine.version)
        except Exception:
            log.exception("could not load the last good index")

    def _watch_loop(self) -> None:
        """Reload on file events; every second also compare the KB's content hash, which
        catches edits made before the watcher was up and events lost by network mounts."""
        from watchfiles import watch

        def relevant(_change: object, path: str) -> bool:
            return path.endswith(".md") or path.endswith(TAXONOMY_FILE)

        while not self._stop.is_set():
            try:
                for changes in watch(self.kb_dir, watch_filter=relevant, stop_event=self._stop,
                                     debounce=self.debounce_ms, step=50, rust_timeout=1000,
                                     yield_on_timeout=True, raise_interrupt=False):
                    if changes or self._kb_changed():
                        self.reload()
            except FileNotFoundError:
                time.sleep(1)  # KB folder briefly missing (e.g. replaced by a deploy)
            except Exception:
                log.exception("KB watcher failed; restarting it")
                time.sleep(1)

    def _kb_changed(self) -> bool:
        """True once per new KB content that the serving engine does not reflect."""
        try:
            current = content_hash(self.kb_dir)
        except OSError:
            return False
        served = self._engine.info.get("kb_hash") if self._engine else None
        if current in (served, self._last_tried_hash):
            return False
        self._last_tried_hash = current
        return True
