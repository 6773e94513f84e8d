"""Speed-ups of Rasa 3.6 itself, applied by bot/serve.py before Rasa starts.

1. Rasa checks every action server response with `jsonschema.validate(result, schema)`, which
first re-validates the schema itself against the JSON Schema meta-schema and builds a new
validator: about a fifth of Rasa's CPU per custom action on 2 cores (docs/profiles). The same
check with the validator built and the schema checked once gives the same verdict and the same
error message for a bad response. A good response is first checked event by event against the
schema's alternative for its event name instead of all 23 (`oneOf`): a tenth of the check's
cost (`_by_event_name`; 1.41 -> 0.13 ms for five events).

2. Every event read from the tracker store (the whole stored tracker, every turn) finds its class
with `Event.resolve_by_type`, which walks every subclass of Event each time. The classes a type
name resolves to are kept once found (unknown names still go through Rasa's own lookup).

3. DIET's prediction goes through a `tf.function` with one fixed input signature (Rasa's
`_dynamic_signature`), and every call pays TensorFlow's dispatch (binding, flattening and casting
the ~20 inputs, finding the one graph) about as much as running the graph. The graph is taken
once and called with the inputs as tensors (`_call_flat`, TensorFlow 2.12 as Rasa 3.6 pins it):
1.7 ms less CPU per parse of ~10, the same intents and confidences.

4. Every custom action call opened a new aiohttp session, so a new TCP connection to the gateway,
each turn (`EndpointConfig.request`). Calls now share one session per event loop and endpoint
settings, with keep-alive: idle connections are dropped after KEEPALIVE_S, below uvicorn's 5 s,
so the gateway never closes one under a request; a request whose reused connection broke anyway
is sent once more on a new one (the gateway never read it).

Runs in the Rasa venv (Python 3.10): imports nothing from the gateway.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    compiled: dict[str, Any] = {}

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        validator = compiled.get("response")
        if validator is None:
            schema = self.action_response_format_spec()
            cls = validators.validator_for(schema)
            cls.check_schema(schema)
            validator = compiled["response"] = cls(schema)
            compiled["fast"] = _by_event_name(schema, cls)
        if compiled["fast"] is not None and compiled["fast"](result):
            return True
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                f". Failed to validate Action server response from API, make sure your response from "
                f"the Action endpoint is valid. For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions")
            raise error
        return True

    RemoteAction._validate_action_result = validate_action_result
    _memoise_event_types()
    _join_coo_directly()
    _predict_through_the_graph()
    _keep_connections()


KEEPALIVE_S = 2.0   # below uvicorn's --timeout-keep-alive (5 s): the client always closes first


def _keep_connections() -> None:
    import asyncio
    import os
    import ssl

    import aiohttp
    from rasa.utils import endpoints

    sessions: dict[tuple[Any, ...], aiohttp.ClientSession] = {}

    def shared(config: Any) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        key = (loop, tuple(sorted(config.headers.items())), tuple(sorted(config.basic_auth.items())))
        session = sessions.get(key)
        if session is None or session.closed:
            auth = (aiohttp.BasicAuth(config.basic_auth["username"], config.basic_auth["password"])
                    if config.basic_auth else None)
            session = sessions[key] = aiohttp.ClientSession(
                headers=config.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S))
        return session

    async def request(self: Any, method: str = "post", subpath: str | None = None,
                      content_type: str | None = "application/json", compress: bool = False,
                      **kwargs: Any) -> Any:
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(kwargs.pop("headers", {}))
        headers.update(self.headers)
        url = endpoints.concat_url(self.url, subpath)
        sslcontext = None
        if self.cafile:
            try:
                sslcontext = ssl.create_default_context(cafile=self.cafile)
            except FileNotFoundError as e:
                raise endpoints.FileNotFoundException(
                    f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not exist."
                ) from e
        params = self.combine_parameters(kwargs)
        for attempt in (1, 2):
            session = shared(self)
            try:
                async with session.request(method, url, headers=headers, params=params, compress=compress,
                                           ssl=sslcontext, **kwargs) as response:
                    if response.status >= 400:
                        raise endpoints.ClientResponseError(response.status, response.reason,
                                                            await response.content.read())
                    try:
                        return await response.json()
                    except aiohttp.ContentTypeError:
                        return None
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                if attempt == 2:
                    raise
        return None

    endpoints.EndpointConfig.request = request


def _predict_through_the_graph() -> None:
    import tensorflow as tf
    from rasa.utils.tensorflow import models

    original = models.RasaModel._rasa_predict

    def rasa_predict(self: Any, batch_in: Any) -> Any:
        if self._run_eagerly or not self.prepared_for_prediction:
            return original(self, batch_in)   # first call after training, or eager: Rasa's path
        graph = self.__dict__.get("_predict_graph")
        if graph is None:
            if self._tf_predict_step is None:
                self._tf_predict_step = tf.function(self.predict_step,
                                                    input_signature=self._dynamic_signature(batch_in))
            graph = self.__dict__["_predict_graph"] = self._tf_predict_step.get_concrete_function()
            self.__dict__["_predict_specs"] = list(graph.structured_input_signature[0][0])
        self._training = False
        specs = self.__dict__["_predict_specs"]
        if len(batch_in) != len(specs):
            return original(self, batch_in)
        inputs = [tf.convert_to_tensor(x, dtype=spec.dtype) for x, spec in zip(batch_in, specs, strict=True)]
        flat = graph._call_flat(inputs, graph.captured_inputs)
        outputs = models.tf_utils.sync_to_numpy_or_python_type(flat)
        diagnostic = models.DIAGNOSTIC_DATA
        if diagnostic in outputs:
            outputs[diagnostic] = self._empty_lists_to_none_in_dict(outputs[diagnostic])
        return outputs

    models.RasaModel._rasa_predict = rasa_predict


def _join_coo_directly() -> None:
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    original = Features._combine_sparse_features

    def combine(self: Features, additional_features: Features) -> None:
        left, right = self.features, additional_features.features
        if not (isinstance(left, scipy.sparse.coo_matrix) and isinstance(right, scipy.sparse.coo_matrix)
                and left.shape[0] == right.shape[0] and left.dtype == right.dtype):
            original(self, additional_features)   # other shapes and errors: Rasa's own path
            return
        rows, cols = left.shape[0], left.shape[1] + right.shape[1]
        index = np.int32 if max(rows, cols) < np.iinfo(np.int32).max else np.int64
        self.features = scipy.sparse.coo_matrix(
            (np.concatenate([left.data, right.data]),
             (np.concatenate([left.row, right.row]).astype(index, copy=False),
              np.concatenate([left.col, right.col + left.shape[1]]).astype(index, copy=False))),
            shape=(rows, cols))
        self._cached_fingerprint = None

    Features._combine_sparse_features = combine


def _by_event_name(schema: dict[str, Any], cls: Any) -> Any:
    """The same verdict as the whole schema, without its `oneOf`: each event is checked against the
    one alternative whose `event` const is its name (the alternatives' consts are distinct, so no
    other can match and "exactly one" is "that one"). None when the schema is not of that shape.
    Errors are still reported by the whole schema, with Rasa's own message."""
    import copy

    base = copy.deepcopy(schema)
    try:
        alternatives = base["properties"]["events"]["items"].pop("oneOf")
        names = [alt["properties"]["event"]["const"] for alt in alternatives]
    except (KeyError, TypeError):
        return None
    if len(set(names)) != len(names):
        return None
    whole, by_name = cls(base), {name: cls(alt) for name, alt in zip(names, alternatives, strict=True)}

    def is_valid(result: Any) -> bool:
        if not whole.is_valid(result):
            return False
        for event in result.get("events") or []:   # objects with a string `event`, per `whole`
            checker = by_name.get(event["event"])
            if checker is None or not checker.is_valid(event):
                return False
        return True

    return is_valid


def _memoise_event_types() -> None:
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = found.get(type_name)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None and cls is not default:
                found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)
