"""fakes3_model.py - the state and the scripted rules of tests/fakes3/fakes3.py, and the
S3 wire helpers its handler uses (key encoding, XML error documents, MD5, times). The rule
grammar is described in fakes3.py. Python 3 stdlib only."""
import base64
import hashlib
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

STATE_LOCK = threading.Lock()


class State:
    def __init__(self, access_key, secret_key, buckets):
        self.access_key = access_key
        self.secret_key = secret_key
        self.buckets = set(buckets)
        self.reset()

    def reset(self):
        self.objects = {}      # (bucket, key) -> (bytes, etag, mtime)
        self.uploads = {}      # upload id -> {"bucket", "key", "parts": {n: (bytes, etag)},
        #                                   "initiated"}
        self.lifecycle = {}    # bucket -> configuration document (bytes)
        self.versioned = set()  # buckets with versioning (fakes3_versions.py)
        self.versions = {}     # (bucket, key) -> [(id, bytes, etag, mtime, is_marker)]
        self.object_lock = False   # every bucket has Object Lock enabled (/_ctl/objectlock)
        self.retention = {}    # (bucket, key) -> (mode, retain-until text)
        self.rules = []
        self.log = []
        self.token = ""
        self.down_until = 0.0
        self.nov2 = ""         # /_ctl/nov2: "501", "400" or "ignore" (no ListObjectsV2)
        self.sclass = {}       # (bucket, key) -> x-amz-storage-class its creation asked


class Rule:
    def __init__(self, line):
        f = line.split()
        if len(f) < 5:
            raise ValueError("rule needs 5 fields: " + line)
        self.method, self.path, self.query, which, self.action = f[:5]
        self.args = f[5:]
        self.count = 0
        self.window = None         # N@MS: (N, MS) and, once the Nth came, its end
        self.until = None
        if which == "all":
            self.which = None
        elif "@" in which:
            n, _, ms = which.partition("@")
            self.which = set()
            self.window = (int(n), int(ms))
        else:
            self.which = set()
            for part in which.split(","):
                a, _, b = part.partition("-")
                self.which.update(range(int(a), int(b or a) + 1))

    def applies(self):
        """Count one more matching request; does this rule act on it?"""
        self.count += 1
        if self.window:
            if self.count == self.window[0]:
                self.until = time.monotonic() + self.window[1] / 1000.0
            return self.until is not None and time.monotonic() < self.until
        return self.which is None or self.count in self.which

    def matches(self, method, path, query):
        if self.method != "*" and self.method != method:
            return False
        if self.path != "*" and self.path not in path:
            return False
        if self.query == "-":
            return query == ""
        return self.query == "*" or self.query in query


def s3enc(s, safe=""):
    return quote(s, safe="-_.~" + safe)


def parse_xml(body):
    """The parsed request body, or None when it is not XML (the caller answers 400)."""
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def error_xml(code, message="scripted"):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>fake</RequestId></Error>'
            % (escape(code), escape(message))).encode()


def listing_encoder(q):
    """How a listing writes keys: percent-encoded (a space as '+', as AWS does) when the
    request asked for encoding-type=url, else XML-escaped raw text."""
    if q.get("encoding-type") == "url":
        return lambda k: quote_plus(k, safe="/")
    return escape


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def md5_header_error(headers, body, required):
    """The S3 error code for the request's Content-MD5, or None if it is fine. A copy
    (CopyObject, UploadPartCopy: x-amz-copy-source, no body) needs none, as in AWS."""
    value = headers.get("Content-MD5")
    if value is None:
        return "InvalidRequest" if required and not headers.get("x-amz-copy-source") else None
    if value != base64.b64encode(hashlib.md5(body).digest()).decode():
        return "BadDigest"
    return None


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


def lock_request(headers, enabled):
    """The (mode, until) a request asks a new object to carry, None when it asks none, or
    an S3 error code (bad values, or lock headers on a bucket without Object Lock)."""
    mode = headers.get("x-amz-object-lock-mode")
    until = headers.get("x-amz-object-lock-retain-until-date")
    if mode is None and until is None:
        return None
    if mode not in LOCK_MODES or not until or not enabled:
        return "InvalidRequest"
    return (mode, until)


def retention_change(old, body):
    """PutObjectRetention of body over the retention old ((mode, until) or None): the new
    (mode, until), or an S3 error code. Shortening or leaving COMPLIANCE is refused (no
    bypass), as AWS and RGW do. Dates compare as the client writes them (same format)."""
    root = parse_xml(body)
    if root is None:
        return "MalformedXML"
    mode = until = None
    for c in root:
        if c.tag.endswith("Mode"):
            mode = c.text
        elif c.tag.endswith("RetainUntilDate"):
            until = c.text
    if mode not in LOCK_MODES or not until:
        return "MalformedXML"
    if old and (until < old[1] or (old[0] == "COMPLIANCE" and mode != "COMPLIANCE")):
        return "AccessDenied"
    return (mode, until)


STORAGE_CLASSES = ("STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER",
                   "GLACIER_IR", "DEEP_ARCHIVE", "REDUCED_REDUNDANCY")


def storage_class(headers):
    """The x-amz-storage-class a request asks (None: none), or False for one AWS lacks."""
    sc = headers.get("x-amz-storage-class")
    if sc is None:
        return None
    return sc if sc in STORAGE_CLASSES else False
