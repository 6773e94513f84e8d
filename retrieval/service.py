"""A long-lived search service with hot reload (what the gateway holds).

Editors change `kb_content/` while the gateway runs. A watcher thread notices,
validates the new KB, builds a new engine in the background and swaps a single
reference: queries never wait and never see a half-built index. A KB with
errors is rejected (errors logged and exposed in `status()`) and the previous
engine keeps serving. `var/index/CURRENT` remembers the last good index so a
restart with a broken KB still serves the last good content.

With `tuning.enabled`, an edit is served within seconds by the tuned encoder already in use
(only changed texts are encoded); the encoder is re-tuned for the new questions in a background
thread, which then builds the engine with it and swaps it in the same way. A newer edit cancels
an older re-tune, or takes it over when the questions (the tuning key) did not change.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import tuning
from .config import RetrievalConfig, load_config
from .embedder import Embedder
from .embedders import make_embedder
from .engine import Hit, SearchEngine, SearchResult
from .kb import (
    TAXONOMY_FILE,
    Entry,
    KBError,
    KnowledgeBase,
    content_hash,
    content_stamp,
    load_kb,
    taxonomy_order,
)
from .store import build_engine, default_cache_root, provisional_engine

log = logging.getLogger("retrieval.service")


@dataclass
class _Retune:
    """A background re-tune: the model it makes (`key`) and the newest KB with those questions."""

    key: str
    kb: KnowledgeBase
    cancel: threading.Event = field(default_factory=threading.Event)


class RetrievalService:
    def __init__(self, kb_dir: str | Path, cache_root: Path | None = None,
                 embedder: Embedder | None = None, config: RetrievalConfig | None = None,
                 watch: bool = True, debounce_ms: int = 300):
        self.kb_dir = Path(kb_dir)
        self._taxonomy: tuple[int, list[tuple[str, str]]] | None = None
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
        self._last_stamp: tuple[tuple[str, int, int], ...] = ()
        self._swap_lock = threading.Lock()   # short: guards the engine swap and the re-tune job
        self._generation = 0                 # +1 per swap by reload(): a re-tune built before is stale
        self._retune: _Retune | None = None
        self._retune_thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.config.embedders)
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
        with self._swap_lock:
            if self._retune is not None:
                self._retune.cancel.set()
                self._retune = None
            retune_thread = self._retune_thread
        if retune_thread is not None:
            retune_thread.join(timeout=3)  # a tune stops within a step; a build may outlive this
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

    def search(self, query: str, lang: str | None = None, k: int = 3,
               context: str | None = None) -> SearchResult:
        """`context`: the conversation's previous FAQ question or entry id (see SearchEngine.search)."""
        return self.engine.search(query, lang=lang, k=k, context=context)

    def entry(self, entry_id: str) -> Hit | None:
        """The entry with this id in the current index (None if it no longer exists)."""
        return self.engine.entry(entry_id)

    def variants(self, entry_id: str) -> dict[str, str]:
        return self.engine.variants(entry_id)

    def entries(self) -> list[Entry]:
        return list(self.engine.index.entries)

    def taxonomy(self) -> list[tuple[str, str]]:
        """Read again only when taxonomy.yml changes (pages ask on every request)."""
        try:
            mtime = (self.kb_dir / TAXONOMY_FILE).stat().st_mtime_ns
        except OSError:
            mtime = 0
        cached = self._taxonomy
        if cached is None or cached[0] != mtime:
            cached = self._taxonomy = (mtime, taxonomy_order(self.kb_dir))
        return list(cached[1])

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
            "tuned": bool(engine.info.get("tuned")) if engine else False,
            "retuning": self._retune is not None,
        }

    # ---- reloads -----------------------------------------------------------------------------
    def reload(self) -> bool:
        """Validate and build the KB now; swap only if everything succeeded."""
        with self._build_lock:
            try:
                kb = load_kb(self.kb_dir)
                current = self._engine.embedder if self._engine is not None else None
                embedder, retune = tuning.serving(kb, self.embedder, tuning.load_params(self.config),
                                                  self.cache_root, current)
                quick = None
                if self._engine is not None:
                    quick = provisional_engine(kb, embedder, self.config, self._engine, self.cache_root)
                if quick is not None:
                    with self._swap_lock:
                        self._generation += 1
                        self._install(quick, provisional=True)
                engine = build_engine(kb, embedder, self.config, cache_root=self.cache_root, tune="off",
                                      prebuilt=quick.index if quick is not None else None)
            except KBError as exc:
                self.last_errors = [str(p) for p in exc.problems]
                for p in exc.problems:
                    log.error("KB rejected, still serving the previous index: %s", p)
                return False
            except Exception as exc:  # a bad build must never take the service down
                self.last_errors = [f"index build failed: {exc!r}"]
                log.exception("index build failed, still serving the previous index")
                return False
            with self._swap_lock:
                self._generation += 1
                self._install(engine)
                self._schedule_retune(kb if retune else None)
            return True

    def _install(self, engine: SearchEngine, provisional: bool = False) -> None:
        """Serve `engine` (caller holds the swap lock); a provisional one is neither counted
        nor remembered as the last good index (it has no folder yet)."""
        self._engine = engine  # atomic reference swap
        self.last_errors = []
        if provisional:
            log.info("FAQ index %s serving %s entries while it calibrates", engine.version,
                     engine.info["entries"])
            return
        self.reloads += 1
        self.last_reload_at = time.time()
        self._remember(engine.version)
        log.info("FAQ index %s serving %s entries (model %s)", engine.version, engine.info["entries"],
                 engine.info.get("model"))

    # ---- background re-tune ------------------------------------------------------------------
    def _schedule_retune(self, kb: KnowledgeBase | None) -> None:
        """Start (or keep, or cancel) the re-tune for the KB just served (caller holds the swap lock)."""
        job = self._retune
        if kb is None:  # served with its own tuned model, or tuning off
            if job is not None:
                job.cancel.set()
                self._retune = None
            return
        key = tuning.key_for(kb, self.embedder, tuning.load_params(self.config))
        if job is not None and job.key == key:
            job.kb = kb  # same questions (an answer edit): the running tune still fits
            return
        if job is not None:
            job.cancel.set()
        self._retune = job = _Retune(key, kb)
        self._retune_thread = threading.Thread(target=self._retune_run, args=(job,), name="kb-retune",
                                               daemon=True)
        self._retune_thread.start()

    def _retune_run(self, job: _Retune) -> None:
        """Tune for the job's questions, build the engine with that model, swap it in unless a
        newer edit was served meanwhile (then build again for it, or give up if cancelled)."""
        base = tuning.sentence_backend(self.embedder)
        try:
            result = tuning.tuned_model(job.kb, Path(base.path), tuning.load_params(self.config),
                                        self.cache_root, cancel=job.cancel)
            if result is None:
                return
            embedder = tuning.with_backend(self.embedder, base, tuning.load_tuned(result.path))
            while not job.cancel.is_set():
                with self._swap_lock:
                    kb, generation = job.kb, self._generation
                engine = build_engine(kb, embedder, self.config, cache_root=self.cache_root, tune="off")
                with self._swap_lock:
                    if job.cancel.is_set() or self._retune is not job:
                        return
                    if generation == self._generation:
                        self._install(engine)
                        log.info("re-tuned encoder serving (tuned in %.0f s)", result.seconds)
                        return
        except tuning.TuningCancelled:
            log.info("re-tune superseded by a newer KB edit")
        except Exception:  # the previous engine keeps serving; the next edit tries again
            log.exception("background re-tune failed; still serving the previous encoder")
        finally:
            with self._swap_lock:
                if self._retune is job:
                    self._retune = None

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
            from .index import HybridIndex

            folder = self.cache_root / current.read_text().strip()
            # built with a tuned encoder, perhaps: load the one its model id names
            embedder = tuning.embedder_for(HybridIndex.load(folder).model_id, self.embedder,
                                           self.cache_root)
            self._engine = load_engine_folder(folder, embedder, self.config)
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
        """True once per new KB content that the serving engine does not reflect. The files are
        read and hashed only when a name, size or modification time moved (reading the whole KB
        every second cost the idle gateway ~5 ms of CPU a second)."""
        try:
            stamp = content_stamp(self.kb_dir)
            if stamp == self._last_stamp:
                return False
            current = content_hash(self.kb_dir)
        except OSError:
            return False
        self._last_stamp = stamp
        served = self._engine.info.get("kb_hash") if self._engine else None
        if current in (served, self._last_tried_hash):
            return False
        self._last_tried_hash = current
        return True
