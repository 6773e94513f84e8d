"""Custom actions, served by the gateway at POST /webhook (rasa_sdk's ActionExecutor)."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from .escalation import ActionHandoff, ActionSubmitTicket
from .faq import ActionAnswerFaq, ActionOfferHelp
from .forms import (
    ActionAskOrderNumber,
    ActionAskTicketOrder,
    ActionLeaveForm,
    ValidateOrderForm,
    ValidateTicketForm,
)
from .orders import ActionOrderStatus
from .services import Services


def executor(services: Services) -> ActionExecutor:
    """An executor with every action bound to `services`."""
    ex = ActionExecutor()
    actions = (ActionAnswerFaq(services), ActionOfferHelp(services),
               ActionHandoff(services), ActionSubmitTicket(services), ActionOrderStatus(services),
               ActionLeaveForm(services), ValidateTicketForm(services), ValidateOrderForm(services),
               ActionAskOrderNumber(services), ActionAskTicketOrder(services))
    for action in actions:
        ex.register_action(action)
    return ex
