"""A drive-thru ordering agent: function tools, per-session userdata and a handoff.

``DriveThruAgent`` takes the order with tools that read and write ``userdata`` (the ``Order``);
``checkout`` hands the conversation to ``CashierAgent``, which announces the total and takes the
payment. Run it in text mode (type your lines, read the agent's)::

    python examples/drive_thru_agent.py --demo                 # scripted LLM, fully offline
    python examples/drive_thru_agent.py --llm openai/gpt-4.1-mini

``--llm`` takes any provider string of an installed plugin (default: the offline llama.cpp
model). ``tests/test_example_drive_thru.py`` drives it with a scripted LLM through
``session.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from voxlane.agents.llm import ToolError, function_tool
from voxlane.agents.voice import Agent, AgentSession, RunContext

MENU: dict[str, float] = {
    "burger": 5.50,
    "cheeseburger": 6.00,
    "veggie wrap": 5.00,
    "fries": 2.50,
    "soda": 1.80,
    "milkshake": 3.20,
}
SIZE_EXTRA: dict[str, float] = {"small": 0.0, "medium": 0.50, "large": 1.00}

Size = Literal["small", "medium", "large"]


@dataclass
class OrderLine:
    item: str
    size: Size
    quantity: int

    @property
    def price(self) -> float:
        return round((MENU[self.item] + SIZE_EXTRA[self.size]) * self.quantity, 2)

    def describe(self) -> str:
        return f"{self.quantity} x {self.size} {self.item} ({self.price:.2f})"


@dataclass
class Order:
    """Per-session state (``AgentSession(userdata=Order())``)."""

    lines: list[OrderLine] = field(default_factory=list)
    paid_with: str | None = None

    @property
    def total(self) -> float:
        return round(sum(line.price for line in self.lines), 2)

    def summary(self) -> str:
        if not self.lines:
            return "the order is empty"
        return "; ".join(line.describe() for line in self.lines) + f"; total {self.total:.2f}"


MenuItem = Annotated[str, Field(description=f"one of: {', '.join(MENU)}")]


class DriveThruAgent(Agent):
    """Takes the order."""

    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "You take orders at a burger drive-thru. Menu: "
                + ", ".join(f"{k} ({v:.2f})" for k, v in MENU.items())
                + ". Sizes small, medium (+0.50), large (+1.00). Use the tools to change the "
                "order; when the customer is done, call checkout. Keep answers short."
            )
        )

    async def on_enter(self) -> None:
        self.session.say("Welcome! What can I get you today?")

    @function_tool
    async def add_item(
        self,
        context: RunContext[Order],
        item: MenuItem,
        quantity: int = 1,
        size: Size = "medium",
    ) -> str:
        """Add an item to the order.

        Args:
            item: the menu item.
            quantity: how many (1 to 10).
            size: small, medium or large.
        """
        name = item.strip().lower()
        if name not in MENU:
            raise ToolError(f"{item!r} is not on the menu; we have {', '.join(MENU)}")
        if not 1 <= quantity <= 10:
            raise ToolError("the quantity must be between 1 and 10")
        line = OrderLine(item=name, size=size, quantity=quantity)
        context.userdata.lines.append(line)
        return f"added {line.describe()}; order total {context.userdata.total:.2f}"

    @function_tool
    async def remove_item(self, context: RunContext[Order], item: MenuItem) -> str:
        """Remove every line of an item from the order.

        Args:
            item: the menu item to remove.
        """
        name = item.strip().lower()
        order = context.userdata
        kept = [line for line in order.lines if line.item != name]
        if len(kept) == len(order.lines):
            raise ToolError(f"there is no {item} in the order")
        order.lines = kept
        return f"removed {name}; {order.summary()}"

    @function_tool
    async def read_order(self, context: RunContext[Order]) -> str:
        """Read back the current order and its total."""
        return context.userdata.summary()

    @function_tool
    async def checkout(self, context: RunContext[Order]) -> tuple[Agent, str]:
        """The customer is done ordering: hand over to the cashier."""
        if not context.userdata.lines:
            raise ToolError("the order is empty; ask what the customer would like first")
        return CashierAgent(), f"order complete: {context.userdata.summary()}"


class CashierAgent(Agent):
    """Announces the total and takes the payment."""

    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "You are the drive-thru cashier. Tell the customer the total, ask how they "
                "want to pay (card or cash), then call pay."
            )
        )

    async def on_enter(self) -> None:
        order: Order = self.session.userdata
        self.session.generate_reply(
            instructions=f"Tell the customer their total is {order.total:.2f} and ask how "
            "they want to pay."
        )

    @function_tool
    async def pay(self, context: RunContext[Order], method: Literal["card", "cash"]) -> str:
        """Take the payment.

        Args:
            method: card or cash.
        """
        order = context.userdata
        if order.paid_with is not None:
            raise ToolError(f"the order was already paid with {order.paid_with}")
        order.paid_with = method
        return f"paid {order.total:.2f} by {method}; please drive to the next window"


def demo_llm() -> Any:
    """A scripted LLM that plays one ordering conversation (offline, deterministic)."""
    from voxlane.agents.testing import FakeLLM, FakeResponse, FakeToolCall

    llm = FakeLLM(
        # calls that answer no user message (the cashier's greeting) take these in order
        responses=["Your total is on the screen. Card or cash?"],
        default="Sorry, in this demo I only understand burgers, fries and paying.",
    )
    llm.when(
        "burger",
        FakeResponse(
            tool_calls=[FakeToolCall("add_item", {"item": "burger", "size": "large"})],
            followup="One large burger. Anything else?",
        ),
    )
    llm.when(
        "fries",
        FakeResponse(
            tool_calls=[FakeToolCall("add_item", {"item": "fries", "quantity": 2})],
            followup="Two fries added. Is that all?",
        ),
    )
    llm.when(
        "that's all",
        FakeResponse(tool_calls=[FakeToolCall("checkout")], followup="Great, one moment."),
    )
    llm.when(
        "card",
        FakeResponse(
            tool_calls=[FakeToolCall("pay", {"method": "card"})],
            followup="Thanks! Please drive to the next window.",
        ),
    )
    return llm


async def chat(llm: Any, lines: list[str] | None = None) -> Order:
    """Run a text conversation: ``lines`` (or stdin when None); returns the final order."""
    order = Order()
    async with AgentSession(llm=llm, userdata=order) as session:
        session.on(
            "conversation_item_added",
            lambda ev: (
                print(f"agent> {ev.item.text_content}")
                if getattr(ev.item, "role", None) == "assistant"
                else None
            ),
        )
        await session.start(DriveThruAgent())
        for _ in range(5):  # let on_enter queue its greeting, then wait for it
            await asyncio.sleep(0)
        await session.drain()
        while True:
            if lines is not None:
                if not lines:
                    break
                line = lines.pop(0)
                print(f"you> {line}")
            else:
                try:
                    line = await asyncio.to_thread(input, "you> ")
                except EOFError:
                    break
            if line.strip() in ("", "quit", "exit"):
                if line.strip():
                    break
                continue
            await session.run(user_input=line)
    return order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--llm", default="llamacpp", help="provider string of the LLM")
    parser.add_argument("--demo", action="store_true", help="use a scripted offline LLM")
    args = parser.parse_args(argv)
    script = None
    if args.demo:
        llm: Any = demo_llm()
        script = ["a large burger please", "and fries", "that's all", "card"]
    else:
        llm = args.llm
    order = asyncio.run(chat(llm, script))
    print(f"final order: {order.summary()}; paid with {order.paid_with or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
