/*
 * ctl_json.c — `--json`: a control-port reply printed as the coordinator
 * sent it, msgpack shown as JSON (docs/control-port.md uses the same
 * form), one object per line, so scripts read exactly the documented
 * fields.
 *
 * The message is encoded with the schema's codec (proto.h) and the bytes
 * are walked as msgpack objects: maps become objects, arrays arrays,
 * strings JSON strings (escaped; bytes that are not UTF-8 text pass
 * through as \u00XX), binary values hex strings.  Reading msgpack to print
 * it packs nothing by hand.
 */
#include "launcher/ctl_client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <msgpack.h>

static void
json_str (FILE *f, const char *p, size_t n)
{
  fputc ('"', f);
  for (size_t i = 0; i < n; i++)
    {
      unsigned char c = (unsigned char)p[i];
      if (c == '"' || c == '\\')
        fprintf (f, "\\%c", c);
      else if (c == '\n')
        fputs ("\\n", f);
      else if (c == '\t')
        fputs ("\\t", f);
      else if (c == '\r')
        fputs ("\\r", f);
      else if (c < 0x20 || c == 0x7f)
        fprintf (f, "\\u%04x", c);
      else
        fputc (c, f);
    }
  fputc ('"', f);
}

static void
json_obj (FILE *f, const msgpack_object *o)
{
  switch (o->type)
    {
    case MSGPACK_OBJECT_NIL:
      fputs ("null", f);
      break;
    case MSGPACK_OBJECT_BOOLEAN:
      fputs (o->via.boolean ? "true" : "false", f);
      break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      fprintf (f, "%" PRIu64, o->via.u64);
      break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      fprintf (f, "%" PRId64, o->via.i64);
      break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
      fprintf (f, "%.17g", o->via.f64);
      break;
    case MSGPACK_OBJECT_STR:
      json_str (f, o->via.str.ptr, o->via.str.size);
      break;
    case MSGPACK_OBJECT_BIN:
      fputc ('"', f);
      for (uint32_t i = 0; i < o->via.bin.size; i++)
        fprintf (f, "%02x", (unsigned char)o->via.bin.ptr[i]);
      fputc ('"', f);
      break;
    case MSGPACK_OBJECT_ARRAY:
      fputc ('[', f);
      for (uint32_t i = 0; i < o->via.array.size; i++)
        {
          if (i)
            fputs (", ", f);
          json_obj (f, &o->via.array.ptr[i]);
        }
      fputc (']', f);
      break;
    case MSGPACK_OBJECT_MAP:
      fputc ('{', f);
      for (uint32_t i = 0; i < o->via.map.size; i++)
        {
          if (i)
            fputs (", ", f);
          const msgpack_object *k = &o->via.map.ptr[i].key;
          if (k->type == MSGPACK_OBJECT_STR)
            json_str (f, k->via.str.ptr, k->via.str.size);
          else
            fputs ("\"?\"", f);
          fputs (": ", f);
          json_obj (f, &o->via.map.ptr[i].val);
        }
      fputc ('}', f);
      break;
    default:
      fputs ("null", f);
      break;
    }
}

void
mu_ctl_print_json (FILE *f, const mu_msg_t *m)
{
  char *buf = NULL;
  size_t len = 0;
  if (mu_msg_encode (m, &buf, &len) != 0)
    {
      fprintf (f, "{\"t\": \"error\", \"message\": \"cannot encode the reply\"}\n");
      return;
    }
  msgpack_unpacked u;
  msgpack_unpacked_init (&u);
  size_t off = 0;
  if (msgpack_unpack_next (&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS)
    json_obj (f, &u.data);
  else
    fputs ("null", f);
  fputc ('\n', f);
  msgpack_unpacked_destroy (&u);
  free (buf);
}
