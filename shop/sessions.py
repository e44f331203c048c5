"""Sessions read from the state Redis and written through to PostgreSQL.

Django's cached_db engine, with three changes:
- a sliding idle expiry: each request that reads the session extends its Redis TTL, so an
  active shopper stays signed in and an idle one expires after SESSION_COOKIE_AGE;
- the PostgreSQL copy is refreshed at most every DB_REFRESH seconds (one UPDATE per active
  shopper per quarter hour, not one per request), so a flushed Redis still finds the session;
- Redis errors never sign anyone out: reads fall back to PostgreSQL and writes still reach it;
  a PostgreSQL outage does not either: a refresh of an existing session stays in Redis.
The pure cache engine, by contrast, loses every session with Redis and, with Redis down,
tries 10,000 keys in `create()` before giving up.
"""

import logging
import time

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.db import DatabaseError

from . import history, visitor

logger = logging.getLogger(__name__)

DB_REFRESH = 15 * 60
_SYNCED = "_synced"


class SessionStore(cached_db.SessionStore):
    cache_key_prefix = "session:"

    # What the visitor's slots need, read with the session (shop/visitor.py); None until then.
    prefetched: visitor.Prefetched | None = None

    def load(self) -> dict:
        try:
            # Read and slide the idle expiry, with the visitor's cart and recently viewed
            # list, in one script: one round trip a page.
            cache = self._cache
            raw, self.prefetched = visitor.read(
                cache.client.get_client(write=True),
                cache.client.make_key(self.cache_key),
                visitor.index_key(self.session_key),
                settings.SESSION_COOKIE_AGE,
                history.KEPT,
                history.RECENT_DAYS * 86400,
            )
            data = None if raw is None else cache.client.decode(raw)
        except Exception as exc:
            logger.warning("state redis unavailable, session read from PostgreSQL: %s", exc)
            data = None
        if data is None:
            return self._load_from_db()
        self._index(data)
        try:
            # Pass the expiry: without it get_expiry_age() reads the session, i.e. calls load().
            age = self.get_expiry_age(expiry=data.get("_session_expiry"))
            if age != settings.SESSION_COOKIE_AGE:  # a session given an expiry of its own
                self._cache.touch(self.cache_key, age)
        except Exception as exc:
            logger.warning("state redis unavailable, session expiry not extended: %s", exc)
        if data.get(_SYNCED, 0) < time.time() - DB_REFRESH:
            self.modified = True  # the middleware saves it: PostgreSQL's copy stays alive
        return data

    def _index(self, data: dict) -> None:
        """Write the visitor index when it does not name the owner this session's content
        gives (a new session, a first cart); what came with a wrong one is dropped."""
        owner = visitor.owner_of(data)
        found = self.prefetched
        if found is not None and found.owner == owner:
            return
        self.prefetched = None
        try:
            client = self._cache.client.get_client(write=True)
            key = visitor.index_key(self.session_key)
            if owner is None:
                client.delete(key)
            else:
                client.set(key, owner, ex=settings.SESSION_COOKIE_AGE)
        except Exception as exc:
            logger.warning("state redis unavailable, visitor index not written: %s", exc)

    def _load_from_db(self) -> dict:
        session = self._get_session_from_db()
        if session is None:
            return {}
        data = self.decode(session.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=session.expire_date))
        except Exception:
            logger.warning("state redis unavailable: session not cached")
        return data

    def save(self, must_create: bool = False) -> None:
        synced = self._session.get(_SYNCED)
        self._session[_SYNCED] = int(time.time())
        try:
            super().save(must_create)
        except DatabaseError:
            if must_create:
                raise  # a new session (a login) needs its PostgreSQL row: the 503 page says so
            # PostgreSQL is away: keep the shopper signed in from the state Redis, and leave
            # the sync mark as it was so that a later request writes PostgreSQL's copy.
            if synced is None:
                self._session.pop(_SYNCED, None)
            else:
                self._session[_SYNCED] = synced
            logger.warning("postgresql unavailable: session %s kept in Redis only", self._key6())
            try:
                self._cache.set(self.cache_key, self._session, self.get_expiry_age())
            except Exception:
                logger.warning("state redis unavailable too: session change not saved")

    def _key6(self) -> str:
        return (self.session_key or "")[:6]

    def exists(self, session_key: str) -> bool:
        try:
            if session_key and (self.cache_key_prefix + session_key) in self._cache:
                return True
        except Exception:
            logger.warning("state redis unavailable: session key checked in PostgreSQL")
        return super(cached_db.SessionStore, self).exists(session_key)

    def delete(self, session_key: str | None = None) -> None:
        super(cached_db.SessionStore, self).delete(session_key)
        session_key = session_key or self.session_key
        if session_key is None:
            return
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
            self._cache.client.get_client(write=True).delete(visitor.index_key(session_key))
        except Exception:
            logger.warning("state redis unavailable: session %s left to expire", session_key[:6])
