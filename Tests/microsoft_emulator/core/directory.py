"""The seeded tenant's people: the same users show up in every product's data (Defender XDR incident entities,
Defender for Endpoint logons), as they would in one real tenant."""
from __future__ import annotations

from dataclasses import dataclass

from .ids import guid

DOMAIN = 'contoso.onmicrosoft.com'

FIRST_NAMES = ['Adele', 'Alex', 'Diego', 'Grady', 'Henrietta', 'Isaiah', 'Johanna', 'Joni', 'Lee', 'Lidia', 'Lynne',
               'Megan', 'Miriam', 'Nestor', 'Patti', 'Pradeep', 'Christie', 'Debra', 'Emily', 'Enrico']
LAST_NAMES = ['Vance', 'Wilber', 'Siciliani', 'Archie', 'Mueller', 'Langer', 'Lauer', 'Sherman', 'Gu', 'Holloway',
              'Robbins', 'Bowen', 'Hunter', 'Wilke', 'Fernandez', 'Gupta', 'Cline', 'Berg', 'Braun', 'Rossi']


@dataclass(frozen=True)
class User:
    account_name: str
    display_name: str
    upn: str
    sid: str
    aad_id: str


USERS = [User(account_name=f'{f.lower()}.{last.lower()}', display_name=f'{f} {last}', upn=f'{f.lower()}.{last.lower()}@{DOMAIN}',
              sid=f'S-1-5-21-1721254763-462695806-1538882281-{4100 + i}', aad_id=guid(f'user{i}'))
         for i, (f, last) in enumerate(zip(FIRST_NAMES, LAST_NAMES, strict=True))]
