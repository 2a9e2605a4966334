def earn_for_refreshed(contact_ids: list[int]) -> None:
    return None
