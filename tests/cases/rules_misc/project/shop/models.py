from pydantic import BaseModel


class Order(BaseModel):
    id: int


class Invoice(BaseModel):
    total: float
