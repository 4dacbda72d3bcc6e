class Item:
    pass


class Settings:
    pass
