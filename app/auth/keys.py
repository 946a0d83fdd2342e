"""Token signing keys of the identity provider, with rotation.

The newest unretired key signs. Rotating makes a new key and retires the old
one; a retired key stays in the JWKS (and keeps verifying) for the rollover
window, so tokens signed just before a rotation stay valid until they expire.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth.sso_models import SigningKey
from app.core.secrets import decrypt, encrypt

ALGORITHM = "RS256"


def _now() -> datetime:
    return datetime.now(UTC)


def create_key(session: Session) -> SigningKey:
    kid = secrets.token_urlsafe(12)
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"}, private=True)
    row = SigningKey(kid=kid, private_jwk=encrypt(json.dumps(key.as_dict(private=True))), created_at=_now())
    session.add(row)
    session.flush()
    return row


def rotate(session: Session) -> SigningKey:
    """A new signing key; the current one retires (still verifying for the rollover window)."""
    now = _now()
    for row in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        row.retired_at = now
    return create_key(session)


def signing_key(session: Session) -> RSAKey:
    """The key that signs now; made on first use."""
    row = session.scalars(
        select(SigningKey).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
    ).first()
    if row is None:
        row = create_key(session)
    return _load(row)


def verification_keys(session: Session, rollover_hours: int) -> KeySet:
    """Every key a valid token may be signed with: current ones and those in their rollover window."""
    since = _now() - timedelta(hours=rollover_hours)
    rows = session.scalars(
        select(SigningKey).where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > since))
    ).all()
    return KeySet([_load(row) for row in rows])


def jwks(session: Session, rollover_hours: int) -> dict:
    """The public JWKS document (a first key is made if there is none yet)."""
    signing_key(session)
    keys = verification_keys(session, rollover_hours)
    return {"keys": [key.as_dict(private=False) for key in keys.keys]}


def _load(row: SigningKey) -> RSAKey:
    return RSAKey.import_key(json.loads(decrypt(row.private_jwk)))
