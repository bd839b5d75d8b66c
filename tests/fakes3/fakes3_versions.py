"""fakes3_versions.py - the versioned buckets of tests/fakes3/fakes3.py: every PUT keeps a
version, a DELETE without versionId adds a delete marker, GET/HEAD ?versionId= read one
version, ListObjectVersions (key-marker/version-id-marker paging), GET ?versioning.
Python 3 stdlib only; called with STATE_LOCK held."""
import uuid
from xml.sax.saxutils import escape

from fakes3_model import error_xml, iso, listing_encoder

XMLH = {"Content-Type": "application/xml"}


def store(st, bucket, key, data, etag, mtime):
    """Write an object (a new version when the bucket is versioned); its extra headers."""
    st.objects[(bucket, key)] = (data, etag, mtime)
    if bucket not in st.versioned:
        return {}
    vid = uuid.uuid4().hex
    st.versions.setdefault((bucket, key), []).append((vid, data, etag, mtime, False))
    return {"x-amz-version-id": vid}


def _latest(st, bucket, key):
    """Make st.objects show the newest version of key (none after a delete marker)."""
    hist = st.versions.get((bucket, key), [])
    if hist and not hist[-1][4]:
        st.objects[(bucket, key)] = hist[-1][1:4]
    else:
        st.objects.pop((bucket, key), None)


def delete(st, bucket, key, vid, mtime):
    """DELETE: the object, a delete marker (versioned, no id) or one version."""
    if bucket not in st.versioned:
        st.objects.pop((bucket, key), None)
        return 204, {}, b""
    hist = st.versions.setdefault((bucket, key), [])
    if vid is None:
        marker = uuid.uuid4().hex
        hist.append((marker, b"", "", mtime, True))
        st.objects.pop((bucket, key), None)
        return 204, {"x-amz-delete-marker": "true", "x-amz-version-id": marker}, b""
    hist[:] = [v for v in hist if v[0] != vid]
    _latest(st, bucket, key)
    return 204, {}, b""


def get_version(st, bucket, key, vid):
    """(data, etag, mtime) of one version, or an error answer (status, headers, body)."""
    for v in st.versions.get((bucket, key), []):
        if v[0] == vid and v[4]:
            return (405, XMLH, error_xml("MethodNotAllowed", "a delete marker"))
        if v[0] == vid:
            return v[1:4]
    return (404, XMLH, error_xml("NoSuchVersion", "The specified version does not exist."))


def versioning(st, bucket):
    status = "<Status>Enabled</Status>" if bucket in st.versioned else ""
    return 200, XMLH, ("<VersioningConfiguration>%s</VersioningConfiguration>"
                       % status).encode()


def _entries(st, bucket, prefix):
    """(key, vid, data, etag, mtime, marker, latest) by key, newest first."""
    out = []
    for (b, k) in sorted(st.versions):
        if b != bucket or not k.startswith(prefix):
            continue
        hist = st.versions[(b, k)]
        for i, v in enumerate(reversed(hist)):
            out.append((k,) + v + (i == 0,))
    return out


def list_versions(st, bucket, q, stuck=False):
    enc = listing_encoder(q)
    max_keys = int(q.get("max-keys", "1000"))
    ents = _entries(st, bucket, q.get("prefix", ""))
    km, vm = q.get("key-marker", ""), q.get("version-id-marker", "")
    if km and not stuck:
        pos = [i for i, e in enumerate(ents) if e[0] == km and e[1] == vm]
        ents = ents[pos[0] + 1:] if pos else [e for e in ents if e[0] > km]
    page = ents[:max_keys]
    truncated = len(ents) > len(page) or stuck
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
           "<Name>%s</Name><MaxKeys>%d</MaxKeys>" % (escape(bucket), max_keys),
           "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
    if q.get("encoding-type") == "url":
        out.append("<EncodingType>url</EncodingType>")
    if truncated and page:
        out.append("<NextKeyMarker>%s</NextKeyMarker><NextVersionIdMarker>%s"
                   "</NextVersionIdMarker>" % (enc(page[-1][0]), page[-1][1]))
    for k, vid, data, etag, mtime, marker, latest in page:
        head = "<Key>%s</Key><VersionId>%s</VersionId><IsLatest>%s</IsLatest>" \
               "<LastModified>%s</LastModified>" % (enc(k), vid, "true" if latest else "false",
                                                    iso(mtime))
        if marker:
            out.append("<DeleteMarker>%s</DeleteMarker>" % head)
        else:
            out.append("<Version>%s<ETag>&quot;%s&quot;</ETag><Size>%d</Size>"
                       "<StorageClass>STANDARD</StorageClass></Version>"
                       % (head, etag, len(data)))
    out.append("</ListVersionsResult>")
    return 200, XMLH, "".join(out).encode()
