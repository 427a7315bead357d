"""A restaurant front desk written for LiveKit Agents 1.x, the way its users write agents.

Three agents share one ``UserData`` through ``RunContext[UserData]``: a greeter that hands off
to a reservation agent or a takeaway agent by returning ``(Agent, str)`` from a tool, and a
reservation agent that collects a phone number with an ``AgentTask`` awaited inside a tool.
Every agent speaks first from ``on_enter`` with ``generate_reply``.

The compatibility harness rewrites ``livekit.agents`` / ``livekit.plugins`` to the Voxlane
names and runs this file unchanged otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from livekit.agents import (
    Agent,
    AgentSession,
    AgentTask,
    JobContext,
    RunContext,
    ToolError,
    function_tool,
    llm,
)
from livekit.plugins import openai
from pydantic import Field

MENU = {"pizza": 12.0, "salad": 8.5, "soup": 6.0}


@dataclass
class UserData:
    customer_name: str | None = None
    customer_phone: str | None = None
    reservation_time: str | None = None
    party_size: int | None = None
    order: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"name={self.customer_name}, phone={self.customer_phone}, "
            f"time={self.reservation_time}, party={self.party_size}, order={self.order}"
        )


RunContext_T = RunContext[UserData]


class CollectPhoneTask(AgentTask[str]):
    """Asks for a phone number and completes with it."""

    def __init__(self) -> None:
        super().__init__(instructions="Ask the customer for a phone number to confirm the booking.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Ask for the customer's phone number.")

    @function_tool()
    async def record_phone(
        self,
        phone: Annotated[str, Field(description="The customer's phone number")],
    ) -> None:
        """Called when the customer gives a phone number."""
        digits = [c for c in phone if c.isdigit()]
        if len(digits) < 7:
            raise ToolError(f"{phone!r} does not look like a phone number; ask again")
        self.complete("".join(digits))


class Greeter(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions=(
                "You are the front desk of a restaurant. Find out whether the customer wants "
                "to book a table or order takeaway, then transfer them."
            )
        )

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Greet the customer and offer help.")

    @function_tool()
    async def update_name(
        self,
        name: Annotated[str, Field(description="The customer's name")],
        context: RunContext_T,
    ) -> str:
        """Called when the customer tells their name."""
        context.userdata.customer_name = name
        return f"The name is updated to {name}"

    @function_tool()
    async def to_reservation(self, context: RunContext_T) -> tuple[Agent, str]:
        """Called when the customer wants to book a table."""
        return Reservation(), "Transferring you to our reservations desk."

    @function_tool()
    async def to_takeaway(self, context: RunContext_T) -> tuple[Agent, str]:
        """Called when the customer wants to order food to take away."""
        return Takeaway(), "Transferring you to takeaway orders."


class Reservation(Agent):
    def __init__(self) -> None:
        super().__init__(
            instructions="You take table reservations: ask for the time and the party size."
        )

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Ask when they would like to come.")

    @function_tool()
    async def update_reservation(
        self,
        time: Annotated[str, Field(description="The reservation time, e.g. 7pm")],
        party_size: Annotated[int, Field(description="How many people", ge=1, le=12)],
        context: RunContext_T,
    ) -> str:
        """Called when the customer gives the time and the number of people."""
        context.userdata.reservation_time = time
        context.userdata.party_size = party_size
        return f"Reservation set for {party_size} at {time}"

    @function_tool()
    async def confirm_reservation(self, context: RunContext_T) -> str:
        """Called when the customer confirms the reservation."""
        userdata = context.userdata
        if not userdata.reservation_time:
            raise ToolError("no reservation time yet; ask for it first")
        userdata.customer_phone = await CollectPhoneTask()
        return f"Reservation confirmed: {userdata.summary()}"


class Takeaway(Agent):
    def __init__(self) -> None:
        super().__init__(instructions="You take takeaway orders from the menu.")

    async def on_enter(self) -> None:
        self.session.generate_reply(instructions="Read the menu to the customer.")

    @function_tool()
    async def add_item(
        self,
        item: Annotated[str, Field(description="A dish from the menu")],
        context: RunContext_T,
    ) -> str:
        """Add a dish to the order.

        Args:
            item: the name of the dish
        """
        if item not in MENU:
            raise ToolError(f"{item} is not on the menu; we have {', '.join(MENU)}")
        context.userdata.order.append(item)
        return f"Added {item}; the order is now {context.userdata.order}"


def create_llm() -> llm.LLM:
    """The model this program talks to (the tests pass their own)."""
    return openai.LLM(model="gpt-4o-mini")


async def entrypoint(ctx: JobContext) -> None:
    await ctx.connect()
    session = AgentSession[UserData](userdata=UserData(), llm=create_llm())
    await session.start(agent=Greeter(), room=ctx.room)
