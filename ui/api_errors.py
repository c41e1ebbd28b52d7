"""Bad values sent to the page's events get a plain message naming the value, never Gradio's own.

Gradio checks an event's values before our handler runs, and its messages are for its developers:
too few values printed every component as ``<gradio.components.slider.Slider object at 0x…>``, a
chat value of the wrong shape came back as pydantic's validation text, and ``top_k="5"`` as
"Could not preprocess input component at index 3 …". :func:`plain_input_errors` wraps that check
on one app's :class:`gradio.Blocks`: an API function (``gr.api``, such as ``/ask``) takes the
values it was sent with the rest left to their defaults, and every other bad value is refused with
what was expected, by the name the handler gives it:

    >>> expected(gr.Slider(1, 50))
    'a number from 1 to 50'
    >>> expected(gr.Dropdown(["extractive", "llm"]))
    "one of 'extractive', 'llm'"
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr
from gradio.components.api_component import Api

from qa.request import kind_of

CHAT_MESSAGES = 'a list of messages, each {"role": "user" or "assistant", "content": text}'


def plain_input_errors(blocks: gr.Blocks) -> None:
    """Make ``blocks`` refuse bad event values with :func:`explain`'s message (a ``gr.Error``)."""
    original = blocks.preprocess_data

    async def preprocess_data(
        block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False
    ) -> Any:
        inputs = check_count(block_fn, list(inputs))
        try:
            return await original(block_fn, inputs, state, explicit_call)
        except Exception as error:
            message = explain(block_fn, inputs)
            if message is None:
                if isinstance(error, gr.Error):
                    raise  # already said in plain words (an upload refused, say)
                message = "The request's values could not be read; check them against the API page"
            raise gr.Error(message, title="Bad request", print_exception=False) from None

    blocks.preprocess_data = preprocess_data  # type: ignore[method-assign]


def check_count(block_fn: Any, inputs: list[Any]) -> list[Any]:
    """``inputs`` with an API function's missing values as ``None`` (its defaults), or a ``gr.Error``
    saying how many values the event takes and which."""
    wanted = len(block_fn.inputs)
    api = bool(block_fn.inputs) and all(isinstance(block, Api) for block in block_fn.inputs)
    if len(inputs) < wanted and api:
        return inputs + [None] * (wanted - len(inputs))
    if len(inputs) != wanted:
        names = ", ".join(parameter_names(block_fn))
        sent = f"{len(inputs)} value" + ("" if len(inputs) == 1 else "s")
        takes = f"at most {wanted}" if api else str(wanted)
        raise gr.Error(
            f"This request takes {takes} values ({names}); it sent {sent}",
            title="Bad request",
            print_exception=False,
        )
    return inputs


def explain(block_fn: Any, inputs: list[Any]) -> str | None:
    """What is wrong with the first value a component of ``block_fn`` cannot take, or ``None``."""
    names = parameter_names(block_fn)
    for i, (block, value) in enumerate(zip(block_fn.inputs, inputs, strict=False)):
        description = expected(block)
        if block.stateful or description is None or accepts(block, value):
            continue
        return f"{names[i]} must be {description}, not {kind_of(value)}"
    return None


def expected(block: Any) -> str | None:
    """What a value for ``block`` must be, in words; ``None`` for components not checked here."""
    if isinstance(block, gr.Slider):
        return f"a number from {block.minimum:g} to {block.maximum:g}"
    if isinstance(block, gr.Number):
        return "a number"
    if isinstance(block, gr.Dropdown | gr.Radio):
        return "one of " + ", ".join(repr(value) for _label, value in block.choices)
    if isinstance(block, gr.Checkbox):
        return "true or false"
    if isinstance(block, gr.Chatbot):
        return CHAT_MESSAGES
    if isinstance(block, gr.Textbox):
        return "text"
    return None


def accepts(block: Any, value: Any) -> bool:
    """Whether ``block`` takes ``value`` (its data model and its own preprocessing both pass)."""
    try:
        model = getattr(block, "data_model", None)
        if model is not None and value is not None:
            value = model.model_validate(value, context={"validate_meta": True})
        block.preprocess(value)
    except Exception:
        return False
    # A number's text ("5") failed deep inside Gradio, where it compared the value with the bounds.
    return not (isinstance(block, gr.Slider | gr.Number) and isinstance(value, str | bool))


def parameter_names(block_fn: Any) -> list[str]:
    """The names the event's handler gives its values (``value 1``, … where it gives none)."""
    fn: Callable[..., Any] | None = getattr(block_fn, "fn", None)
    try:
        parameters = list(inspect.signature(fn).parameters) if fn is not None else []
    except (TypeError, ValueError):
        parameters = []
    return [parameters[i] if i < len(parameters) else f"value {i + 1}" for i in range(len(block_fn.inputs))]
