from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    front_desk = "front_desk"
    chiropractor = "chiropractor"


ALL_ROLES = frozenset(Role)
