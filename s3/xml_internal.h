/* xml_internal.h - the XML helpers xml.c shares with xml_list.c (libxml2 types). */
#ifndef RBD2S3_XML_INTERNAL_H
#define RBD2S3_XML_INTERNAL_H

#include <stddef.h>
#include <libxml/tree.h>

/* What a character XML 1.0 cannot carry (a control byte, "&#x1;") becomes before parsing:
 * U+FDD0, a noncharacter. A raw key that holds it was not readable and is skipped. */
#define S3_XML_BAD_CHAR "\xef\xb7\x90"

/* Parse a response body (leading blanks skipped, unreadable characters replaced);
 * NULL when it is not XML or too large. The caller frees it with xmlFreeDoc(). */
xmlDoc *s3_xml_read(const void *body, size_t len);
/* 1 if n is an element named name (namespace ignored). */
int s3_xml_name_is(const xmlNode *n, const char *name);
/* The first element child of parent named name, or NULL. */
xmlNode *s3_xml_child(const xmlNode *parent, const char *name);
/* The text of n, malloc'ed by libxml2 (free with xmlFree), or NULL. */
char *s3_xml_text(const xmlNode *n);
/* 1 if the listing page root says that its keys are percent-encoded (EncodingType url).
 * (xml_list.c) */
int s3_xml_url_encoded(const xmlNode *root);
/* The text of k (a listing's key: percent-decoded when enc) into a malloc'ed *out, at most
 * max bytes. -EINVAL when k is missing or empty, or its text too long, not readable or
 * not decodable; -ENOMEM; 0. (xml_list.c) */
int s3_xml_key(const xmlNode *k, int enc, size_t max, char **out);
/* Copy an ETag without its surrounding quotes (and blanks) into dst. */
void s3_xml_copy_etag(const char *src, char *dst, size_t dstsz);

#endif
