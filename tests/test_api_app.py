"""The API application starts and answers its meta routes."""

from fastapi.testclient import TestClient

from api.main import create_app


def test_health_and_profiles():
    client = TestClient(create_app())
    assert client.get("/health").json()["status"] == "ok"
    names = [p["name"] for p in client.get("/profiles").json()]
    assert names[:3] == ["adult", "adult_winter", "elderly"]
