"""Request-scoped access to the app's shared services (stored on app.state by create_app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.runs import RunRegistry
from app.store import ImageStore


def get_store(request: Request) -> ImageStore:
    """The image store."""
    store: ImageStore = request.app.state.store
    return store


def get_registry(request: Request) -> RunRegistry:
    """The run registry."""
    registry: RunRegistry = request.app.state.registry
    return registry


StoreDep = Annotated[ImageStore, Depends(get_store)]
RegistryDep = Annotated[RunRegistry, Depends(get_registry)]
