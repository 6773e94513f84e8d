"""Custom actions, served by the gateway at POST /webhook (rasa_sdk's ActionExecutor)."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from .escalation import ActionHandoff, ActionSubmitTicket, ValidateTicketForm
from .faq import ActionAnswerFaq, ActionOfferHelp
from .language import ActionDetectLanguage
from .orders import ActionOrderStatus, ValidateOrderForm
from .services import Services


def executor(services: Services) -> ActionExecutor:
    """An executor with every action bound to `services`."""
    ex = ActionExecutor()
    actions = (ActionDetectLanguage(services), ActionAnswerFaq(services), ActionOfferHelp(services),
               ActionHandoff(services), ActionSubmitTicket(services), ActionOrderStatus(services),
               ValidateTicketForm(), ValidateOrderForm())
    for action in actions:
        ex.register_action(action)
    return ex
