/*
 * bizevents.h: the bizevents plugin ABI, version 1, for C, in one header.
 *
 * A plugin is a WebAssembly reactor module: the host runs its _initialize
 * once per instance, then calls its bizevents_handle export once per
 * handler call. Inside a call the handler reads the execution context
 * value by value (get), changes what it may (set), writes trace lines and,
 * to fail the message, a message for the caller (fail). Every value that
 * crosses is a JSON text. sdk/ABI.md is the ABI's prose; the names and
 * numbers here are those of sdk/go/abi/abi.go, which a test compares with
 * this file.
 *
 * A plugin includes this header, exports bizevents_handle, and is built
 * with clang and wasi-libc (scripts/toolchain.sh installs them):
 *
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -I sdk/c \
 *         -Wl,--strip-debug -o plugin.wasm plugin.c
 *
 *     #include "bizevents.h"
 *
 *     static int32_t validate(void) {
 *         char amount[64];
 *         int32_t n = bizevents_read("input/Amount", amount, sizeof amount);
 *         if (n < 0 || (size_t)n >= sizeof amount)
 *             return bizevents_fail("no Amount");
 *         bizevents_trace(amount);
 *         return BIZEVENTS_HANDLE_OK;
 *     }
 *
 *     static const struct bizevents_handler handlers[] = {{"Validate", validate}};
 *
 *     BIZEVENTS_EXPORT("bizevents_handle") int32_t bizevents_handle(void) {
 *         return bizevents_dispatch(handlers, sizeof handlers / sizeof handlers[0]);
 *     }
 *
 * Memory: the host never keeps a pointer into the guest past the host
 * call it was given to; buffers belong to the caller. A plugin instance
 * runs one call at a time, so nothing here takes a lock.
 */
#ifndef BIZEVENTS_H
#define BIZEVENTS_H

#if !defined(__wasm32__)
#error "bizevents.h is for plugins: build with clang --target=wasm32-wasi -mexec-model=reactor"
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* BIZEVENTS_ABI_VERSION is the ABI version this header implements. */
#define BIZEVENTS_ABI_VERSION 1

/*
 * BIZEVENTS_EXPORT(name) exports a function from the module under name,
 * e.g. BIZEVENTS_EXPORT("bizevents_handle").
 */
#define BIZEVENTS_EXPORT(name) __attribute__((export_name(name)))

/* BIZEVENTS_IMPORT(name) declares the host function name of module bizevents_v1. */
#define BIZEVENTS_IMPORT(name) __attribute__((import_module("bizevents_v1"), import_name(name)))

/*
 * The error numbers: a host function's negative result. Zero and positive
 * results are not errors. They never change meaning.
 */
/* BIZEVENTS_ERR_NOT_FOUND: the key names nothing in this context (no such parameter, column, image or variable). */
#define BIZEVENTS_ERR_NOT_FOUND (-1)
/* BIZEVENTS_ERR_INVALID_KEY: the key is malformed or names no part of the context. */
#define BIZEVENTS_ERR_INVALID_KEY (-2)
/* BIZEVENTS_ERR_INVALID_VALUE: a value or request is not valid JSON or has the wrong shape. */
#define BIZEVENTS_ERR_INVALID_VALUE (-3)
/* BIZEVENTS_ERR_NOT_ALLOWED: the key is valid but cannot be written now, or execute has no engine to run on. */
#define BIZEVENTS_ERR_NOT_ALLOWED (-4)
/* BIZEVENTS_ERR_OUT_OF_BOUNDS: a pointer and length lie outside guest memory. */
#define BIZEVENTS_ERR_OUT_OF_BOUNDS (-5)
/* BIZEVENTS_ERR_TOO_LARGE: a value, request or result is larger than the host's limit. */
#define BIZEVENTS_ERR_TOO_LARGE (-6)
/* BIZEVENTS_ERR_NO_RESULT: result_read with no pending result. */
#define BIZEVENTS_ERR_NO_RESULT (-7)
/* BIZEVENTS_ERR_FAILED: execute ran the message and it failed; the pending result is {"code": ..., "message": ...}. */
#define BIZEVENTS_ERR_FAILED (-8)

/* The results of bizevents_handle. Any other value is an ABI violation. */
/* BIZEVENTS_HANDLE_OK: the handler succeeded. */
#define BIZEVENTS_HANDLE_OK 0
/*
 * BIZEVENTS_HANDLE_FAILED: the handler failed; the caller sees the message
 * of the call's last fail(), or, when it called none, the error of its
 * last failed execute, with that error's code.
 */
#define BIZEVENTS_HANDLE_FAILED 1

/*
 * The host functions. Pointers and lengths are i32s into the module's own
 * memory, which must be exported as "memory".
 */

/*
 * bizevents_host_get(key, key_len, buf, buf_len) -> len | errno: renders
 * the JSON value at a key path of the context ("handler", "input/Amount",
 * "target/name", "shared/seen", ...; sdk/ABI.md "Keys") and makes it the
 * pending result, replacing any earlier one; when its length is at most
 * buf_len it is also copied into buf, so that a small value takes one
 * host call. Returns its length in bytes, or NOT_FOUND, INVALID_KEY,
 * OUT_OF_BOUNDS, TOO_LARGE.
 */
BIZEVENTS_IMPORT("get") int32_t bizevents_host_get(const char *key, size_t key_len, void *buf, size_t buf_len);

/*
 * bizevents_host_result_read(buf, len) -> len | errno: copies the pending
 * result into buf when it fits in len bytes, and returns its length
 * either way, so bizevents_host_result_read(NULL, 0) asks the length. The
 * result stays pending until the next get or execute. Returns NO_RESULT
 * when there is none, OUT_OF_BOUNDS when buf lies outside memory.
 */
BIZEVENTS_IMPORT("result_read") int32_t bizevents_host_result_read(void *buf, size_t len);

/*
 * bizevents_host_set(key, key_len, val, val_len) -> 0 | errno: sets
 * "target/<column>" (PreValidation and PreOperation only),
 * "output/<name>" or "shared/<name>" to the JSON value val. Returns
 * INVALID_KEY, INVALID_VALUE (val is not one JSON value), NOT_ALLOWED (a
 * read-only key, or the Target too late), OUT_OF_BOUNDS, TOO_LARGE; the
 * host traces why.
 */
BIZEVENTS_IMPORT("set") int32_t bizevents_host_set(const char *key, size_t key_len, const char *val, size_t val_len);

/*
 * bizevents_host_execute(req, req_len) -> len | errno: runs a message
 * through the engine, in the caller's transaction, one level deeper; the
 * request is a JSON object ({"message": "Create", "table": ..., "target":
 * {...}}, sdk/ABI.md "execute"). The response is pending, and its length
 * returned; when the message fails the result is FAILED and the pending
 * result is {"code": ..., "message": ...}. Also INVALID_VALUE, NOT_ALLOWED
 * (no engine, e.g. an async step without a service), OUT_OF_BOUNDS,
 * TOO_LARGE.
 */
BIZEVENTS_IMPORT("execute") int32_t bizevents_host_execute(const char *req, size_t req_len);

/*
 * Access rights of the sharing messages, Dataverse's AccessRights bits: an
 * execute request's "access_rights" as a number, e.g.
 * {"message": "GrantAccess", "table": "account", "id": "<row>",
 * "principal": "<user>", "access_rights": 3} (read and write; the names,
 * "ReadAccess, WriteAccess", work too). RevokeAccess takes a principal and
 * no rights. sdk/ABI.md "execute" has the rules.
 */
#define BIZEVENTS_READ_ACCESS      0x1
#define BIZEVENTS_WRITE_ACCESS     0x2
#define BIZEVENTS_APPEND_ACCESS    0x4
#define BIZEVENTS_APPEND_TO_ACCESS 0x10
#define BIZEVENTS_DELETE_ACCESS    0x10000
#define BIZEVENTS_SHARE_ACCESS     0x40000
#define BIZEVENTS_ASSIGN_ACCESS    0x80000

/*
 * bizevents_host_trace(msg, len): writes a line to the plugin trace log.
 * The host caps lines and bytes per call and counts what it drops. A
 * pointer outside memory stops the call.
 */
BIZEVENTS_IMPORT("trace") void bizevents_host_trace(const char *msg, size_t len);

/*
 * bizevents_host_fail(msg, len): sets the message the caller sees when the
 * handler then returns BIZEVENTS_HANDLE_FAILED; a later fail replaces it.
 * The message's code is handler_failed.
 */
BIZEVENTS_IMPORT("fail") void bizevents_host_fail(const char *msg, size_t len);

/*
 * bizevents_abi_v1 is the marker export: its presence says the module was
 * built for ABI v1. The host never calls it. It is weak, so that any
 * number of files of one plugin may include this header.
 */
__attribute__((weak)) BIZEVENTS_EXPORT("bizevents_abi_v1") void bizevents_abi_v1(void) {}

/*
 * bizevents_errno_name returns an error number's name as sdk/ABI.md writes
 * it ("NOT_FOUND"), or "ERRNO" for a number it does not know.
 */
static inline const char *bizevents_errno_name(int32_t e) {
	switch (e) {
	case BIZEVENTS_ERR_NOT_FOUND: return "NOT_FOUND";
	case BIZEVENTS_ERR_INVALID_KEY: return "INVALID_KEY";
	case BIZEVENTS_ERR_INVALID_VALUE: return "INVALID_VALUE";
	case BIZEVENTS_ERR_NOT_ALLOWED: return "NOT_ALLOWED";
	case BIZEVENTS_ERR_OUT_OF_BOUNDS: return "OUT_OF_BOUNDS";
	case BIZEVENTS_ERR_TOO_LARGE: return "TOO_LARGE";
	case BIZEVENTS_ERR_NO_RESULT: return "NO_RESULT";
	case BIZEVENTS_ERR_FAILED: return "FAILED";
	}
	return "ERRNO";
}

/*
 * bizevents_read reads the JSON value at key into buf, NUL-terminated,
 * with one get. It returns the value's length n, or a host errno
 * (BIZEVENTS_ERR_NOT_FOUND when the key names nothing). When n < cap the
 * value is in buf; when n >= cap buf holds nothing useful and the value
 * stays pending: bizevents_host_result_read(bigger, n) reads it, before
 * the next get or execute.
 */
static inline int32_t bizevents_read(const char *key, char *buf, size_t cap) {
	if (cap == 0) {
		return bizevents_host_get(key, strlen(key), buf, 0);
	}
	int32_t n = bizevents_host_get(key, strlen(key), buf, cap - 1);
	if (n < 0 || (size_t)n >= cap) {
		return n;
	}
	buf[n] = '\0';
	return n;
}

/*
 * bizevents_read_string reads the JSON string at key into buf, decoded
 * (escapes undone, UTF-8) and NUL-terminated, and returns the decoded
 * length. Errors are a host errno, BIZEVENTS_ERR_INVALID_VALUE when the
 * value is not a string, and BIZEVENTS_ERR_TOO_LARGE when its JSON text
 * does not fit in cap-1 bytes. Decoding never lengthens a string, so buf
 * needs no more room than the JSON text.
 */
static inline int32_t bizevents_read_string(const char *key, char *buf, size_t cap) {
	int32_t n = bizevents_read(key, buf, cap);
	if (n < 0) {
		return n;
	}
	if ((size_t)n >= cap) {
		return BIZEVENTS_ERR_TOO_LARGE;
	}
	if (n < 2 || buf[0] != '"' || buf[n - 1] != '"') {
		return BIZEVENTS_ERR_INVALID_VALUE;
	}
	/* Decode in place: the write position never passes the read position. */
	size_t r = 1, w = 0, end = (size_t)n - 1;
	while (r < end) {
		unsigned char c = (unsigned char)buf[r++];
		if (c != '\\') {
			buf[w++] = (char)c;
			continue;
		}
		if (r >= end) {
			return BIZEVENTS_ERR_INVALID_VALUE;
		}
		c = (unsigned char)buf[r++];
		switch (c) {
		case '"': case '\\': case '/': buf[w++] = (char)c; continue;
		case 'b': buf[w++] = '\b'; continue;
		case 'f': buf[w++] = '\f'; continue;
		case 'n': buf[w++] = '\n'; continue;
		case 'r': buf[w++] = '\r'; continue;
		case 't': buf[w++] = '\t'; continue;
		case 'u': break;
		default: return BIZEVENTS_ERR_INVALID_VALUE;
		}
		uint32_t cp = 0;
		for (int pair = 0; pair < 2; pair++) {
			uint32_t u = 0;
			if (end - r < 4) {
				return BIZEVENTS_ERR_INVALID_VALUE;
			}
			for (int i = 0; i < 4; i++) {
				char h = buf[r++];
				u <<= 4;
				if (h >= '0' && h <= '9') u |= (uint32_t)(h - '0');
				else if (h >= 'a' && h <= 'f') u |= (uint32_t)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F') u |= (uint32_t)(h - 'A' + 10);
				else return BIZEVENTS_ERR_INVALID_VALUE;
			}
			if (pair == 0) {
				cp = u;
				/* A high surrogate must be followed by \u and a low one. */
				if (u < 0xD800 || u > 0xDBFF) break;
				if (end - r < 6 || buf[r] != '\\' || buf[r + 1] != 'u') return BIZEVENTS_ERR_INVALID_VALUE;
				r += 2;
			} else {
				if (u < 0xDC00 || u > 0xDFFF) return BIZEVENTS_ERR_INVALID_VALUE;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (u - 0xDC00);
			}
		}
		if (cp >= 0xDC00 && cp <= 0xDFFF) return BIZEVENTS_ERR_INVALID_VALUE;
		if (cp < 0x80) {
			buf[w++] = (char)cp;
		} else if (cp < 0x800) {
			buf[w++] = (char)(0xC0 | (cp >> 6));
			buf[w++] = (char)(0x80 | (cp & 0x3F));
		} else if (cp < 0x10000) {
			buf[w++] = (char)(0xE0 | (cp >> 12));
			buf[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			buf[w++] = (char)(0x80 | (cp & 0x3F));
		} else {
			buf[w++] = (char)(0xF0 | (cp >> 18));
			buf[w++] = (char)(0x80 | ((cp >> 12) & 0x3F));
			buf[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			buf[w++] = (char)(0x80 | (cp & 0x3F));
		}
	}
	buf[w] = '\0';
	return (int32_t)w;
}

/*
 * bizevents_number_sign checks that json (len bytes) is one JSON number
 * and stores its sign in *sign: -1, 0 or 1. It compares digits, never
 * converts, so a decimal or money value of any precision is exact ("-0.00"
 * is zero). It returns 0, or BIZEVENTS_ERR_INVALID_VALUE when json is not
 * a number.
 */
static inline int32_t bizevents_number_sign(const char *json, size_t len, int *sign) {
	size_t i = 0;
	int neg = 0, nonzero = 0;
	if (i < len && json[i] == '-') {
		neg = 1;
		i++;
	}
	if (i >= len || json[i] < '0' || json[i] > '9' || (json[i] == '0' && i + 1 < len && json[i + 1] >= '0' && json[i + 1] <= '9')) {
		return BIZEVENTS_ERR_INVALID_VALUE;
	}
	for (; i < len && json[i] >= '0' && json[i] <= '9'; i++) {
		nonzero |= json[i] != '0';
	}
	if (i < len && json[i] == '.') {
		size_t start = ++i;
		for (; i < len && json[i] >= '0' && json[i] <= '9'; i++) {
			nonzero |= json[i] != '0';
		}
		if (i == start) {
			return BIZEVENTS_ERR_INVALID_VALUE;
		}
	}
	if (i < len && (json[i] == 'e' || json[i] == 'E')) {
		i++;
		if (i < len && (json[i] == '+' || json[i] == '-')) {
			i++;
		}
		size_t start = i;
		for (; i < len && json[i] >= '0' && json[i] <= '9'; i++) {
		}
		if (i == start) {
			return BIZEVENTS_ERR_INVALID_VALUE;
		}
	}
	if (i != len) {
		return BIZEVENTS_ERR_INVALID_VALUE;
	}
	*sign = !nonzero ? 0 : neg ? -1 : 1;
	return 0;
}

/*
 * bizevents_set_json sets key ("shared/<name>", "output/<name>",
 * "target/<column>") to the JSON text json, e.g.
 * bizevents_set_json("shared/validated_by", "\"c\""). It returns 0 or the
 * host's errno.
 */
static inline int32_t bizevents_set_json(const char *key, const char *json) {
	return bizevents_host_set(key, strlen(key), json, strlen(json));
}

/* bizevents_trace writes the NUL-terminated msg as a trace line. */
static inline void bizevents_trace(const char *msg) {
	bizevents_host_trace(msg, strlen(msg));
}

/*
 * BIZEVENTS_FORMAT_MAX bounds a line that bizevents_tracef or
 * bizevents_failf formats; longer text is cut.
 */
#ifndef BIZEVENTS_FORMAT_MAX
#define BIZEVENTS_FORMAT_MAX 1024
#endif

/* bizevents_tracef formats a trace line as printf does. */
__attribute__((format(printf, 1, 2))) static inline void bizevents_tracef(const char *format, ...) {
	char line[BIZEVENTS_FORMAT_MAX];
	va_list ap;
	va_start(ap, format);
	int n = vsnprintf(line, sizeof line, format, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	bizevents_host_trace(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/*
 * bizevents_fail sets the NUL-terminated msg as the call's failure message
 * and returns BIZEVENTS_HANDLE_FAILED, so a handler can end with
 * return bizevents_fail("...").
 */
static inline int32_t bizevents_fail(const char *msg) {
	bizevents_host_fail(msg, strlen(msg));
	return BIZEVENTS_HANDLE_FAILED;
}

/* bizevents_failf is bizevents_fail with a printf format. */
__attribute__((format(printf, 1, 2))) static inline int32_t bizevents_failf(const char *format, ...) {
	char msg[BIZEVENTS_FORMAT_MAX];
	va_list ap;
	va_start(ap, format);
	int n = vsnprintf(msg, sizeof msg, format, ap);
	va_end(ap);
	if (n < 0) {
		return bizevents_fail(format);
	}
	bizevents_host_fail(msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	return BIZEVENTS_HANDLE_FAILED;
}

/*
 * bizevents_handler is a named handler: fn runs one call and returns
 * BIZEVENTS_HANDLE_OK or BIZEVENTS_HANDLE_FAILED (after a fail).
 */
struct bizevents_handler {
	const char *name;
	int32_t (*fn)(void);
};

/*
 * BIZEVENTS_HANDLER_NAME_MAX bounds the JSON text of the handler name
 * bizevents_dispatch reads.
 */
#ifndef BIZEVENTS_HANDLER_NAME_MAX
#define BIZEVENTS_HANDLER_NAME_MAX 256
#endif

/*
 * bizevents_dispatch runs the handler of handlers[0..n) that the host asks
 * for (the key "handler"): the body of a plugin's bizevents_handle. An
 * unknown name fails the call with a message naming it and the handlers
 * the module has, in the words of the Go SDK.
 */
static inline int32_t bizevents_dispatch(const struct bizevents_handler *handlers, size_t n) {
	char name[BIZEVENTS_HANDLER_NAME_MAX];
	int32_t len = bizevents_read_string("handler", name, sizeof name);
	if (len < 0) {
		return bizevents_failf("could not read the handler name: get handler: bizevents ABI error %d %s",
			(int)len, bizevents_errno_name(len));
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(handlers[i].name, name) == 0) {
			return handlers[i].fn();
		}
	}
	if (n == 0) {
		return bizevents_failf("handler \"%s\": this module has no handlers", name);
	}
	char msg[BIZEVENTS_FORMAT_MAX];
	int w = snprintf(msg, sizeof msg, "handler \"%s\" is not registered in this module; it has ", name);
	for (size_t i = 0; i < n && w >= 0 && (size_t)w < sizeof msg; i++) {
		w += snprintf(msg + w, sizeof msg - (size_t)w, "%s%s", i > 0 ? ", " : "", handlers[i].name);
	}
	return bizevents_fail(msg);
}

#endif /* BIZEVENTS_H */
