"""Django's Redis cache, failing open (see config/redis.py): while Redis is down or
hung every read is a miss and every write is dropped, so pages and the API compute
what they would have read from the cache instead of failing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.redis import RedisCache

from config.redis import CACHE, REDIS_ERRORS


def _fail_open(default: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            fallback = default(args, kwargs) if callable(default) else default
            if not CACHE.available():
                return fallback
            try:
                return method(self, *args, **kwargs)
            except REDIS_ERRORS as error:
                CACHE.failed(error)
                return fallback

        return guarded

    return decorate


def _default_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return kwargs.get("default", args[1] if len(args) > 1 else None)


class FailOpenRedisCache(RedisCache):
    get = _fail_open(_default_arg)(RedisCache.get)
    get_many = _fail_open({})(RedisCache.get_many)
    has_key = _fail_open(False)(RedisCache.has_key)
    add = _fail_open(False)(RedisCache.add)
    set = _fail_open(None)(RedisCache.set)
    set_many = _fail_open([])(RedisCache.set_many)
    touch = _fail_open(False)(RedisCache.touch)
    delete = _fail_open(False)(RedisCache.delete)
    delete_many = _fail_open(None)(RedisCache.delete_many)
    incr = _fail_open(0)(RedisCache.incr)
    decr = _fail_open(0)(RedisCache.decr)
    clear = _fail_open(None)(RedisCache.clear)
