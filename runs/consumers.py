"""Live run events (SPEC §7): a snapshot on connect, then ordered events."""
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class RunConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.close(code=4404)


class WorkflowConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.close(code=4404)
