"""Error messages say what answered and where: no EAS body, a refused connection, a timeout; HostId is kept."""

from __future__ import annotations

import httpx

from reconciler.eas.errormap import api_error, transport_error
from reconciler.errors import NotFoundError

REQUEST = httpx.Request("GET", "http://127.0.0.1:8080/api/v2/services?PageNumber=1")


def test_an_answer_without_an_eas_body_names_the_url_and_says_it_is_not_eas() -> None:
    err = api_error(httpx.Response(404, text="<html>nope</html>", request=REQUEST), "ListServices")
    assert err.message == ("GET http://127.0.0.1:8080/api/v2/services answered 404 Not Found without an EAS error "
                           "body: http://127.0.0.1:8080 does not look like an EAS endpoint (check --target)")
    assert err.host_id == ""


def test_a_5xx_without_an_eas_body_mentions_a_proxy() -> None:
    err = api_error(httpx.Response(502, request=REQUEST), "ListServices")
    assert "answered 502 Bad Gateway without an EAS error body" in err.message and "proxy" in err.message


def test_an_eas_body_keeps_its_message_and_host() -> None:
    body = {"Code": "InvalidGroup.NotFound", "Message": "no such group", "RequestId": "R1",
            "HostId": "pai-eas.cn-hangzhou.aliyuncs.com"}
    err = api_error(httpx.Response(404, json=body, request=REQUEST), "DescribeGroup")
    assert isinstance(err, NotFoundError)
    assert (err.message, err.host_id) == ("no such group", "pai-eas.cn-hangzhou.aliyuncs.com")


def test_a_refused_connection_names_the_endpoint() -> None:
    err = transport_error(httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST), "ListServices")
    assert str(err).startswith("ListServices: cannot connect to http://127.0.0.1:8080 ([Errno 111] Connection "
                               "refused): is it running")


def test_a_timeout_names_the_endpoint() -> None:
    err = transport_error(httpx.ReadTimeout("timed out", request=REQUEST), "ListServices")
    assert str(err) == "ListServices: http://127.0.0.1:8080 did not answer in time (ReadTimeout)"
