"""``DigestAuthMiddleware``: Digest authentication (RFC 7616) as a client middleware.

aiohttp 3.12's module name and class. The header text and challenge parsing are
:mod:`.auth`'s (shared with ``auth=DigestAuth(...)``); this module decides when to
answer: once per 401, and up front within the protection space the server announced.
"""

from __future__ import annotations

from yarl import URL

from .auth import DigestAuth, origin_of, should_retry_with_digest
from .client_middlewares import ClientHandlerType
from .cookies import path_match
from .request import ClientRequest
from .response import ClientResponse

__all__ = ("DigestAuthMiddleware",)

Origin = tuple[str, str, int | None]


class DigestAuthMiddleware:
    """Digest authentication (RFC 7616) as a client middleware, as aiohttp 3.12 has it.

    A 401 carrying a Digest challenge is answered once, on the same request (its body
    sent again). With ``preemptive`` the last challenge is answered up front on later
    requests within its protection space (RFC 7616 §3.6: the ``domain`` URIs, else the
    origin that sent it), each with the next nonce count; a stale nonce costs one 401.

    The credentials belong to the origin of the first request the middleware sees:
    requests to other origins outside the protection space pass through untouched.

    Supported: MD5, SHA-256 and their ``-sess`` forms, ``qop=auth`` or no qop (see
    :class:`~.auth.DigestAuth`); a challenge offering only ``auth-int`` or another
    algorithm is not answered and its 401 is returned.

    Args:
        login: the user name.
        password: the password.
        preemptive: answer the known challenge before the server asks again.

    Raises:
        ValueError: if ``login`` or ``password`` is None, or ``login`` has a colon.
    """

    def __init__(self, login: str, password: str, preemptive: bool = True) -> None:
        auth = DigestAuth(login, password)
        if ":" in login:
            # RFC 7616 §3.4.4 lets a username hold one, but aiohttp refuses it; so do we.
            raise ValueError(f"a colon is not allowed in login: {login!r:.80}")
        self._setup(auth, preemptive)

    @classmethod
    def answering(cls, auth: DigestAuth) -> DigestAuthMiddleware:
        """A preemptive middleware answering with *auth* (whose nonce counts it shares):
        what a request's ``auth=DigestAuth(...)`` runs through."""
        middleware = cls.__new__(cls)
        middleware._setup(auth, True)
        return middleware

    def _setup(self, auth: DigestAuth, preemptive: bool) -> None:
        self._auth = auth
        self._preemptive = preemptive
        self._challenge: dict[str, str] | None = None
        # (origin, path prefix) pairs; the first request's origin owns the credentials.
        self._space: list[tuple[Origin, str]] = []
        self._origin: Origin | None = None

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send *request* through *handler*, answering one Digest challenge.

        Args:
            request: the request on its way out.
            handler: the rest of the chain.

        Returns:
            The response: the retried one after a challenge, else the first.
        """
        url = request.url
        origin = origin_of(url)
        if self._origin is None:
            self._origin = origin
        elif origin != self._origin and not self._in_space(url):
            return await handler(request)
        if self._preemptive and self._challenge is not None and self._in_space(url):
            answer = self._answer(request, self._challenge)
            if answer is not None:
                request.headers["Authorization"] = answer
        response = await handler(request)
        challenge = self._challenge_in(response)
        if challenge is None:
            return response
        self._learn(challenge, response.url)
        if not request.is_replayable():
            return response  # a streamed body cannot go again: the caller gets the 401
        answer = self._answer(request, challenge)
        if answer is None:
            return response
        response.release()
        request.headers["Authorization"] = answer
        response = await handler(request)
        challenge = self._challenge_in(response)
        if challenge is not None:
            # Refused again (wrong credentials, or a new nonce): keep the latest challenge
            # for the next request rather than one known to fail.
            self._learn(challenge, response.url)
        return response

    @staticmethod
    def _challenge_in(response: ClientResponse) -> dict[str, str] | None:
        """The Digest challenge of a 401 that we can answer, else None."""
        if response.status != 401:
            return None
        return should_retry_with_digest(401, response.headers)

    def _answer(self, request: ClientRequest, challenge: dict[str, str]) -> str | None:
        """The ``Authorization`` value answering *challenge* for *request* as it is now;
        None when the challenge holds a control character (not answered, as a 401)."""
        try:
            return self._auth.authorization(request.method, request.url, challenge)
        except ValueError:
            return None

    def _learn(self, challenge: dict[str, str], url: URL) -> None:
        """Keep *challenge* and its protection space (RFC 7616 §3.3 ``domain``)."""
        self._challenge = challenge
        space = []
        for uri in challenge.get("domain", "").split():
            try:
                target = url.join(URL(uri))
            except ValueError:
                continue
            space.append((origin_of(target), target.path or "/"))
        self._space = space or [(origin_of(url), "/")]

    def _in_space(self, url: URL) -> bool:
        """Whether *url* is under a protection-space URI (same origin, path-match)."""
        origin, path = origin_of(url), url.path or "/"
        return any(o == origin and path_match(path, prefix) for o, prefix in self._space)
