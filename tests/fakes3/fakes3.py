#!/usr/bin/env python3
"""fakes3.py - a scripted fake S3 server for the s3 module's retry tests (python3 stdlib only).

    fakes3.py --access-key AK --secret-key SK --bucket NAME [--bucket NAME ...]

Binds 127.0.0.1 on a free port, prints the port on stdout (one line) and serves until
killed. It is a small in-memory S3 (PUT/GET/HEAD/DELETE with Range, path-style, or
virtual-hosted when the Host is BUCKET.localhost[:PORT],
ListObjectsV2 with continuation tokens, multipart create/part/complete/abort/list,
multi-object delete, bucket lifecycle GET/PUT/DELETE, CopyObject and UploadPartCopy) that
checks every SigV4 signature and x-amz-content-sha256, so that a request that a real
server would refuse is refused here too; Content-MD5 is required and checked where AWS
requires it (multi-object delete, lifecycle PUT) and on every object and part PUT (as
AWS does on a bucket with Object Lock). What a real server cannot do on demand
is scripted with rules; a multi-object delete refuses keys containing "locked"
(AccessDenied in its DeleteResult). An object keeps the x-amz-storage-class its PUT or
CreateMultipartUpload asked (one AWS does not know: 400 InvalidStorageClass) and HEAD/GET
answer it (none for STANDARD, as AWS).

Control (no authentication, path /_ctl/...):
    POST /_ctl/rules   body: rule lines (replaces the rules, clears the log)
    GET  /_ctl/log     one line per S3 request, tab-separated:
                       method path query x-amz-date signature auth-result action status port
    POST /_ctl/reset   forget objects, versions, uploads, rules, log, token, Object Lock
                       and the no-v2 mode
    POST /_ctl/versioning  body: a bucket name; its versioning is enabled from now on
                       (fakes3_versions.py: versions, delete markers, ?versionId=)
    POST /_ctl/objectlock  body "on": every bucket has Object Lock enabled (objects keep
                       the retention their PUT asked; a multipart upload's is checked but
                       dropped, as RGW 16 does; ?retention PUT extends it, never shortens
                       it), anything else: off
    POST /_ctl/token   body: the session token every S3 request must carry whole in
                       x-amz-security-token (else 400 InvalidToken); empty: none checked
    POST /_ctl/nov2    body "501" or "400": ListObjectsV2 (list-type=2) is answered with
                       that status and NotImplemented; "ignore": list-type=2 is ignored and
                       answered as ListObjects (v1: marker, NextMarker with a delimiter
                       only, no continuation tokens); anything else: off. ListObjects (v1)
                       requests are always served.

A rule line:   METHOD PATH-SUBSTRING QUERY-SUBSTRING WHICH ACTION [ARG]
    METHOD   GET PUT POST DELETE HEAD or *
    PATH/QUERY-SUBSTRING   must occur in the raw path / raw query; * matches anything,
             - matches only an empty query
    WHICH    the ordinal(s) of the requests matching this rule that it applies to:
             1   1-2   2,4   all
             N@MS  from the Nth on, every one for MS milliseconds after the Nth
                   (an outage: "* * * 5@15000 close")
    ACTION   status CODE [S3CODE]   answer CODE with an <Error> document
             error200 S3CODE        answer 200 with an <Error> document
             drop                   send the headers and half the body, then close
             short                  answer with half the body and a matching Content-Length
             close                  close the connection without an answer
             hang MS                wait MS milliseconds, then answer normally
             noetag                 answer normally without ETag (header and <ETag> text),
                                    as RGW 16.2 does on CompleteMultipartUpload
             norange                answer a GET with the whole object (200), ignoring Range
             reset                  close the connection with a TCP reset, no answer
             refuse MS              close the connection, stop listening (connections are
                                    refused) and cut every open one for MS milliseconds,
                                    then listen again on the same port: a restart that
                                    keeps the objects
             lielen N               answer with "Content-Length: N" but the real body,
                                    then close (a lying length)
             stuck                  ListObjectsV2: the first page, truncated, with the same
                                    NextContinuationToken whatever the request's token
             badentry               ListObjectsV2 and ListMultipartUploads: the page gets
                                    one more entry whose key cannot be decoded ("%zz")
             rawkeys                a listing's <Key>s go out decoded whatever encoding-type
                                    says (a key with "%zz" in it then cannot be decoded)
ListObjectsV2 and ListMultipartUploads honour encoding-type=url as AWS does (keys,
prefixes and markers percent-encoded, a space as '+'); without it, keys go raw into the
XML, control characters included (which no XML parser accepts).
Rules are tried in order; every rule that matches counts the request; the first whose
WHICH includes its count acts. Example: "PUT * partNumber=3& 1 status 503 SlowDown".
"""
import argparse
import hashlib
import hmac
import re
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, unquote_plus
from xml.sax.saxutils import escape

import fakes3_versions as fv
from fakes3_model import (STATE_LOCK, Rule, State, error_xml, iso, listing_encoder,
                          lock_request, md5_header_error, md5hex, parse_xml, storage_class,
                          retention_change, s3enc)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body go out as separate writes
    server_version = "fakes3"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_HEAD(self):
        self.dispatch("HEAD")

    # ---- plumbing ----

    def reply(self, status, body=b"", headers=None, send_body=True):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and self.command != "HEAD":
            self.wfile.write(body)

    def dispatch(self, method):
        st = self.server.state
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if raw_path.startswith("/_ctl/"):
            return self.control(method, raw_path, body)

        auth = self.verify(method, raw_path, raw_query, body)
        rule = None
        with STATE_LOCK:
            for r in st.rules:
                if r.matches(method, raw_path, raw_query):
                    if r.applies() and rule is None:
                        rule = r
            sig = re.search(r"Signature=([0-9a-f]+)", self.headers.get("Authorization", ""))
            entry = [method, raw_path, raw_query or "-", self.headers.get("x-amz-date", "-"),
                     sig.group(1) if sig else "-", auth or "ok",
                     rule.action if rule else "-", "0", str(self.client_address[1])]
            st.log.append(entry)

        action = rule.action if rule else None
        self.ignore_range = action == "norange"
        if action == "refuse":
            st.down_until = time.monotonic() + int(rule.args[0]) / 1000.0
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            action = "close"
        if time.monotonic() < st.down_until:
            action = "close"           # a connection opened before the restart
        if action == "close":
            self.close_connection = True
            return
        if action == "reset":
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            return
        if action == "hang":
            time.sleep(int(rule.args[0]) / 1000.0)
        if action == "status":
            code = int(rule.args[0])
            s3code = rule.args[1] if len(rule.args) > 1 else "Scripted"
            entry[7] = str(code)
            return self.reply(code, error_xml(s3code), {"Content-Type": "application/xml"})
        if action == "error200":
            entry[7] = "200"
            return self.reply(200, error_xml(rule.args[0]), {"Content-Type": "application/xml"})

        if not auth and st.token and self.headers.get("x-amz-security-token") != st.token:
            auth = "InvalidToken"
        if auth:
            status, headers, out = (400 if auth == "InvalidToken" else 403), {}, \
                error_xml(auth, "auth check failed")
        else:
            status, headers, out = self.s3(method, raw_path, raw_query, body,
                                           stuck=action == "stuck")
            if action == "rawkeys":
                out = re.sub(rb"<Key>([^<]*)</Key>", lambda m: b"<Key>%s</Key>" % escape(
                    unquote_plus(m.group(1).decode())).encode(), out)
            if action == "badentry":
                out = re.sub(rb"(<Contents>|<Upload>)",
                             rb"<Contents><Key>bad%zz</Key><Size>1</Size></Contents>"
                             rb"<Upload><Key>bad%zz</Key><UploadId>x</UploadId></Upload>\1",
                             out, count=1)
        entry[7] = str(status)
        if action == "drop" and out:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out[: len(out) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if action == "drop":
            self.close_connection = True
            return
        if action == "short" and out:
            out = out[: len(out) // 2]
        if action == "lielen":
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", rule.args[0])
            self.end_headers()
            self.wfile.write(out)
            self.wfile.flush()
            self.close_connection = True
            return
        if action == "noetag":
            headers.pop("ETag", None)
            out = re.sub(rb"<ETag>[^<]*</ETag>", b"<ETag></ETag>", out)
        try:
            self.reply(status, out, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self, method, path, body):
        st = self.server.state
        with STATE_LOCK:
            if method == "POST" and path == "/_ctl/rules":
                try:
                    lines = body.decode().splitlines()
                    rules = [Rule(ln) for ln in lines if ln.strip() and not ln.startswith("#")]
                except ValueError as e:
                    return self.reply(400, str(e).encode())
                st.rules = rules
                st.log = []
                return self.reply(200, b"ok\n")
            if method == "GET" and path == "/_ctl/log":
                out = "".join("\t".join(e) + "\n" for e in st.log).encode()
                return self.reply(200, out, {"Content-Type": "text/plain"})
            if method == "POST" and path == "/_ctl/token":
                st.token = body.decode()
                return self.reply(200, b"ok\n")
            if method == "POST" and path == "/_ctl/versioning":
                st.versioned.add(body.decode().strip())
                return self.reply(200, b"ok\n")
            if method == "POST" and path == "/_ctl/objectlock":
                st.object_lock = body.decode().strip() == "on"
                return self.reply(200, b"ok\n")
            if method == "POST" and path == "/_ctl/nov2":
                st.nov2 = body.decode().strip()
                return self.reply(200, b"ok\n")
            if method == "POST" and path == "/_ctl/reset":
                st.reset()
                return self.reply(200, b"ok\n")
        return self.reply(404, b"no such control\n")

    # ---- SigV4 verification, as a server does it ----

    def verify(self, method, raw_path, raw_query, body):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request,"
                     r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$", auth)
        if not m:
            return "AccessDenied"
        ak, date, region, signed, sig = m.groups()
        if ak != st.access_key:
            return "InvalidAccessKeyId"
        amz_date = self.headers.get("x-amz-date", "")
        payload = self.headers.get("x-amz-content-sha256", "")
        if not amz_date.startswith(date):
            return "SignatureDoesNotMatch"
        if payload != hashlib.sha256(body).hexdigest():
            return "XAmzContentSHA256Mismatch"
        names = signed.split(";")
        if names != sorted(names) or not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(names):
            return "SignatureDoesNotMatch"
        if s3enc(unquote(raw_path), "/") != raw_path:
            return "SignatureDoesNotMatch"       # the path was not encoded canonically
        params = []
        for part in raw_query.split("&") if raw_query else []:
            k, _, v = part.partition("=")
            params.append((s3enc(unquote(k)), s3enc(unquote(v))))
        cq = "&".join("%s=%s" % kv for kv in sorted(params))
        ch = "".join("%s:%s\n" % (n, " ".join((self.headers.get(n) or "").split()))
                     for n in names)
        cr = "\n".join([method, raw_path, cq, ch, signed, payload])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, "%s/%s/s3/aws4_request" % (date, region),
                         hashlib.sha256(cr.encode()).hexdigest()])
        key = ("AWS4" + st.secret_key).encode()
        for part in (date, region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        good = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(good, sig) else "SignatureDoesNotMatch"

    # ---- the in-memory S3 ----

    def s3(self, method, raw_path, raw_query, body, stuck=False):
        st = self.server.state
        path = unquote(raw_path)
        bucket, _, key = path.lstrip("/").partition("/")
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host.endswith(".localhost"):          # virtual-hosted: BUCKET.localhost[:PORT]
            bucket, key = host[: -len(".localhost")], path[1:]
        q = {}
        for part in raw_query.split("&") if raw_query else []:
            k, _, v = part.partition("=")
            q[unquote(k)] = unquote(v)
        xmlh = {"Content-Type": "application/xml"}
        if bucket not in st.buckets:
            return 404, xmlh, error_xml("NoSuchBucket", "The specified bucket does not exist")
        with STATE_LOCK:
            if not key:
                if "delete" in q or "lifecycle" in q:
                    bad = md5_header_error(self.headers, body, method in ("POST", "PUT"))
                    if bad:
                        return 400, xmlh, error_xml(bad, "Content-MD5 missing or wrong")
                if "delete" in q and method == "POST":
                    return self.delete_objects(bucket, body)
                if "lifecycle" in q:
                    return self.lifecycle(bucket, method, body)
                if "uploads" in q and method == "GET":
                    return 200, xmlh, self.list_uploads(bucket, q)
                if "versions" in q and method == "GET":
                    return fv.list_versions(st, bucket, q, stuck)
                if "versioning" in q and method == "GET":
                    return fv.versioning(st, bucket)
                if "object-lock" in q and method == "GET":
                    if not st.object_lock:
                        return 404, xmlh, error_xml("ObjectLockConfigurationNotFoundError")
                    return 200, xmlh, (b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled"
                                       b"</ObjectLockEnabled></ObjectLockConfiguration>")
                if method == "GET" and q.get("list-type") == "2" and st.nov2 in ("501", "400"):
                    return int(st.nov2), xmlh, error_xml("NotImplemented", "no list-type=2")
                if method == "GET":
                    return 200, xmlh, self.list_objects(bucket, q, stuck)
                return 405, xmlh, error_xml("MethodNotAllowed")
            if method == "PUT" and self.headers.get("x-amz-copy-source"):
                return self.copy(bucket, key, q)
            if method == "PUT" and ("retention" in q or "uploadId" not in q):
                bad = md5_header_error(self.headers, body, True)
                if bad:
                    return 400, xmlh, error_xml(bad, "Content-MD5 missing or wrong")
            lock = lock_request(self.headers, st.object_lock)
            if isinstance(lock, str):
                return 400, xmlh, error_xml(lock, "object lock headers")
            sclass = storage_class(self.headers)
            if sclass is False:
                return 400, xmlh, error_xml("InvalidStorageClass")
            if "retention" in q and method == "PUT":
                if (bucket, key) not in st.objects:
                    return 404, xmlh, error_xml("NoSuchKey")
                new = retention_change(st.retention.get((bucket, key)), body)
                if isinstance(new, str):
                    return (403 if new == "AccessDenied" else 400), xmlh, error_xml(new)
                st.retention[(bucket, key)] = new
                return 200, {}, b""
            if "uploads" in q and method == "POST":
                uid = uuid.uuid4().hex
                st.uploads[uid] = {"bucket": bucket, "key": key, "parts": {},
                                   "initiated": time.time(), "class": sclass}
                return 200, xmlh, ("<InitiateMultipartUploadResult><Bucket>%s</Bucket>"
                                   "<Key>%s</Key><UploadId>%s</UploadId>"
                                   "</InitiateMultipartUploadResult>"
                                   % (escape(bucket), escape(key), uid)).encode()
            if "uploadId" in q:
                up = st.uploads.get(q["uploadId"])
                if up is None or up["key"] != key:
                    return 404, xmlh, error_xml("NoSuchUpload", "The upload does not exist")
                if method == "PUT" and "partNumber" in q:
                    bad = md5_header_error(self.headers, body, True)
                    if bad:
                        return 400, xmlh, error_xml(bad, "Content-MD5 missing or wrong")
                    etag = md5hex(body)
                    up["parts"][int(q["partNumber"])] = (body, etag)
                    return 200, {"ETag": '"%s"' % etag}, b""
                if method == "DELETE":
                    del st.uploads[q["uploadId"]]
                    return 204, {}, b""
                if method == "POST":
                    return self.complete(bucket, key, q["uploadId"], up, body)
                return 400, xmlh, error_xml("InvalidRequest")
            if method == "PUT":
                etag = md5hex(body)
                h = fv.store(st, bucket, key, body, etag, time.time())
                h["ETag"] = '"%s"' % etag
                st.sclass[(bucket, key)] = sclass
                st.retention.pop((bucket, key), None)
                if lock:
                    st.retention[(bucket, key)] = lock
                return 200, h, b""
            if method == "DELETE":
                return fv.delete(st, bucket, key, q.get("versionId"), time.time())
            obj = st.objects.get((bucket, key))
            if "versionId" in q:
                obj = fv.get_version(st, bucket, key, q["versionId"])
                if isinstance(obj[0], int):
                    return obj
            if obj is None:
                return 404, xmlh, error_xml("NoSuchKey", "The specified key does not exist.")
            data, etag, _ = obj
            h = {"ETag": '"%s"' % etag, "Accept-Ranges": "bytes"}
            if st.sclass.get((bucket, key)) not in (None, "STANDARD"):   # as AWS: no header
                h["x-amz-storage-class"] = st.sclass[(bucket, key)]      # for STANDARD
            if (bucket, key) in st.retention:
                h["x-amz-object-lock-mode"], h["x-amz-object-lock-retain-until-date"] = \
                    st.retention[(bucket, key)]
            rng = None if getattr(self, "ignore_range", False) else self.headers.get("Range")
            if rng and method == "GET":
                m = re.match(r"bytes=(\d+)-(\d*)$", rng)
                if not m or int(m.group(1)) >= len(data):
                    return 416, xmlh, error_xml("InvalidRange")
                a = int(m.group(1))
                b = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
                h["Content-Range"] = "bytes %d-%d/%d" % (a, b, len(data))
                return 206, h, data[a:b + 1]
            return 200, h, data

    def copy(self, bucket, key, q):
        """CopyObject, or UploadPartCopy with partNumber and uploadId (a copy source
        range taken as AWS does); the source must be in this server."""
        st = self.server.state
        xmlh = {"Content-Type": "application/xml"}
        sb, _, sk = unquote(self.headers["x-amz-copy-source"]).lstrip("/").partition("/")
        obj = st.objects.get((sb, sk))
        if obj is None:
            return 404, xmlh, error_xml("NoSuchKey", "The copy source does not exist.")
        data = obj[0]
        rng = self.headers.get("x-amz-copy-source-range")
        if rng:
            m = re.match(r"bytes=(\d+)-(\d+)$", rng)
            if not m or int(m.group(2)) >= len(data) or int(m.group(1)) > int(m.group(2)):
                return 400, xmlh, error_xml("InvalidArgument", "bad copy source range")
            data = data[int(m.group(1)):int(m.group(2)) + 1]
        etag = md5hex(data)
        if "uploadId" in q:
            up = st.uploads.get(q["uploadId"])
            if up is None or up["key"] != key:
                return 404, xmlh, error_xml("NoSuchUpload", "The upload does not exist")
            up["parts"][int(q["partNumber"])] = (data, etag)
            return 200, xmlh, ("<CopyPartResult><LastModified>2026-01-01T00:00:00.000Z"
                               "</LastModified><ETag>&quot;%s&quot;</ETag></CopyPartResult>"
                               % etag).encode()
        fv.store(st, bucket, key, data, obj[1], time.time())
        return 200, xmlh, ("<CopyObjectResult><LastModified>2026-01-01T00:00:00.000Z"
                           "</LastModified><ETag>\"%s\"</ETag></CopyObjectResult>"
                           % obj[1]).encode()

    def complete(self, bucket, key, uid, up, body):
        st = self.server.state
        xmlh = {"Content-Type": "application/xml"}
        root = parse_xml(body)
        if root is None:
            return 400, xmlh, error_xml("MalformedXML")
        parts = []
        for p in root.iter():
            if p.tag.endswith("Part"):
                num = etag = None
                for c in p:
                    if c.tag.endswith("PartNumber"):
                        num = int(c.text)
                    elif c.tag.endswith("ETag"):
                        etag = c.text.strip('"')
                parts.append((num, etag))
        if not parts:
            return 400, xmlh, error_xml("MalformedXML")
        nums = [n for n, _ in parts]
        if nums != sorted(nums) or len(set(nums)) != len(nums):
            return 400, xmlh, error_xml("InvalidPartOrder")
        data = b""
        digests = b""
        for n, etag in parts:
            have = up["parts"].get(n)
            if have is None or have[1] != etag:
                return 400, xmlh, error_xml("InvalidPart", "part %s" % n)
            data += have[0]
            digests += bytes.fromhex(have[1])
        final = "%s-%d" % (md5hex(digests), len(parts))
        fv.store(st, bucket, key, data, final, time.time())
        st.sclass[(bucket, key)] = up.get("class")
        st.retention.pop((bucket, key), None)   # RGW 16 drops the upload's lock headers
        del st.uploads[uid]
        return 200, xmlh, ("<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key>"
                           "<ETag>&quot;%s&quot;</ETag></CompleteMultipartUploadResult>"
                           % (escape(bucket), escape(key), final)).encode()

    def delete_objects(self, bucket, body):
        st = self.server.state
        xmlh = {"Content-Type": "application/xml"}
        root = parse_xml(body)
        if root is None:
            return 400, xmlh, error_xml("MalformedXML")
        quiet = any(c.tag.endswith("Quiet") and c.text == "true" for c in root)
        keys = [k.text or "" for o in root if o.tag.endswith("Object")
                for k in o if k.tag.endswith("Key")]
        if not 1 <= len(keys) <= 1000:
            return 400, xmlh, error_xml("MalformedXML")
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">']
        for k in keys:
            if "locked" in k:
                out.append("<Error><Key>%s</Key><Code>AccessDenied</Code>"
                           "<Message>Access Denied</Message></Error>" % escape(k))
                continue
            st.objects.pop((bucket, k), None)
            if not quiet:
                out.append("<Deleted><Key>%s</Key></Deleted>" % escape(k))
        out.append("</DeleteResult>")
        return 200, xmlh, "".join(out).encode()

    def lifecycle(self, bucket, method, body):
        st = self.server.state
        xmlh = {"Content-Type": "application/xml"}
        if method == "PUT":
            if parse_xml(body) is None:
                return 400, xmlh, error_xml("MalformedXML")
            st.lifecycle[bucket] = body
            return 200, {}, b""
        if method == "DELETE":
            st.lifecycle.pop(bucket, None)
            return 204, {}, b""
        if method == "GET" and bucket in st.lifecycle:
            return 200, xmlh, st.lifecycle[bucket]
        if method == "GET":
            return 404, xmlh, error_xml("NoSuchLifecycleConfiguration",
                                        "The lifecycle configuration does not exist")
        return 405, xmlh, error_xml("MethodNotAllowed")

    def list_uploads(self, bucket, q):
        st = self.server.state
        enc = listing_encoder(q)
        prefix = q.get("prefix", "")
        max_uploads = int(q.get("max-uploads", "1000"))
        marker = (q.get("key-marker", ""), q.get("upload-id-marker", ""))
        ups = sorted((u["key"], u["initiated"], uid) for uid, u in st.uploads.items()
                     if u["bucket"] == bucket and u["key"].startswith(prefix))
        if marker[0]:
            # after the marker key; with an id marker, the later uploads of that key too
            ids = [uid for k, _, uid in ups if k == marker[0]]
            rest = ids[ids.index(marker[1]) + 1:] if marker[1] in ids else []
            ups = [u for u in ups if u[0] > marker[0] or u[2] in rest]
        page = ups[:max_uploads]
        truncated = len(ups) > len(page)
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Bucket>%s</Bucket><Prefix>%s</Prefix><MaxUploads>%d</MaxUploads>"
               % (escape(bucket), enc(prefix), max_uploads),
               "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if truncated:
            out.append("<NextKeyMarker>%s</NextKeyMarker>"
                       "<NextUploadIdMarker>%s</NextUploadIdMarker>"
                       % (enc(page[-1][0]), page[-1][2]))
        if q.get("encoding-type") == "url":
            out.append("<EncodingType>url</EncodingType>")
        for k, t, uid in page:
            out.append("<Upload><Key>%s</Key><UploadId>%s</UploadId>"
                       "<Initiated>%s</Initiated></Upload>" % (enc(k), uid, iso(t)))
        out.append("</ListMultipartUploadsResult>")
        return "".join(out).encode()

    def list_objects(self, bucket, q, stuck=False):
        st = self.server.state
        enc = listing_encoder(q)
        prefix = q.get("prefix", "")
        delim = q.get("delimiter", "")
        max_keys = int(q.get("max-keys", "1000"))
        v1 = q.get("list-type") != "2" or st.nov2 == "ignore"
        after = q.get("start-after", "") if not v1 else q.get("marker", "")
        token = q.get("continuation-token") if not v1 else None
        if token and not stuck:
            after = bytes.fromhex(token).decode()
        if v1 and stuck:
            after = ""
        entries = {}
        for (b, k), (data, etag, mtime) in st.objects.items():
            if b != bucket or not k.startswith(prefix):
                continue
            rest = k[len(prefix):]
            if delim and delim in rest:
                cp = prefix + rest[: rest.index(delim) + len(delim)]
                entries[cp] = None
            else:
                entries[k] = (len(data), etag, mtime)
        names = [n for n in sorted(entries) if n > after]
        page = names[:max_keys]
        truncated = (len(names) > len(page) or stuck) and max_keys > 0
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
               "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys>"
               % (escape(bucket), enc(prefix), max_keys),
               "<Marker>%s</Marker>" % enc(after) if v1 else "<KeyCount>%d</KeyCount>" % len(page),
               "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if q.get("encoding-type") == "url":
            out.append("<EncodingType>url</EncodingType>")
        if v1 and truncated and delim and page:    # as AWS: NextMarker with a delimiter only
            out.append("<NextMarker>%s</NextMarker>" % enc(page[-1]))
        elif truncated and not v1:
            out.append("<NextContinuationToken>%s</NextContinuationToken>"
                       % (page[-1] if page else "stuck").encode().hex())
        for n in page:
            e = entries[n]
            if e is None:
                out.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % enc(n))
            else:
                out.append("<Contents><Key>%s</Key><LastModified>%s</LastModified>"
                           "<ETag>&quot;%s&quot;</ETag><Size>%d</Size>"
                           "<StorageClass>STANDARD</StorageClass></Contents>"
                           % (enc(n), iso(e[2]), e[1], e[0]))
        out.append("</ListBucketResult>")
        return "".join(out).encode()


def main():
    ap = argparse.ArgumentParser(description="scripted fake S3 server")
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--bucket", action="append", required=True)
    a = ap.parse_args()
    state = State(a.access_key, a.secret_key, a.bucket)
    port = 0
    try:
        while True:
            srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
            srv.daemon_threads = True
            srv.state = state
            if not port:
                port = srv.server_address[1]
                print(port, flush=True)
            srv.serve_forever()
            srv.server_close()         # a "refuse" rule: down until down_until
            time.sleep(max(0.0, state.down_until - time.monotonic()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
