//go:build ignore

/*
 * validate.c: a bizevents plugin in C, the Go validate example's twin. It
 * checks a CustomerPurchase before it is recorded. Build it as README.md
 * says; register a step with handler "c_validate/ValidatePurchase".
 *
 * (The go:build line above keeps the go tool, which would take a .c file
 * beside the package's test as cgo source, away from this file.)
 */
#include <stdlib.h>

#include "bizevents.h"

/* amount_max bounds the JSON text of an Amount: a number, not a document. */
enum { amount_max = 64 };

/*
 * read_amount reads input/Amount, a JSON number, into buf; on failure it
 * has called fail and returns -1.
 */
static int read_amount(char buf[amount_max], int *sign) {
	int32_t n = bizevents_read("input/Amount", buf, amount_max);
	if (n == BIZEVENTS_ERR_NOT_FOUND) {
		bizevents_fail("parameter Amount is missing: a purchase needs an amount");
		return -1;
	}
	if (n < 0) {
		bizevents_failf("parameter Amount: get input/Amount: bizevents ABI error %d %s", (int)n, bizevents_errno_name(n));
		return -1;
	}
	if (n >= amount_max) {
		bizevents_failf("parameter Amount: want a number, got a value of %d bytes", (int)n);
		return -1;
	}
	if (bizevents_number_sign(buf, (size_t)n, sign) != 0) {
		bizevents_failf("parameter Amount: want a number, got %s", buf);
		return -1;
	}
	return 0;
}

/*
 * ValidatePurchase fails a purchase of a negative amount; a valid one is
 * marked with the shared variable validated_by = "c" for later steps.
 */
static int32_t validate_purchase(void) {
	char amount[amount_max];
	int sign;
	if (read_amount(amount, &sign) != 0) {
		return BIZEVENTS_HANDLE_FAILED;
	}
	if (sign < 0) {
		return bizevents_failf("the amount %s is negative: a purchase cannot take money back; record a refund instead", amount);
	}
	int32_t e = bizevents_set_json("shared/validated_by", "\"c\"");
	if (e < 0) {
		return bizevents_failf("set shared/validated_by: bizevents ABI error %d %s", (int)e, bizevents_errno_name(e));
	}
	bizevents_tracef("validated amount %s", amount);
	return BIZEVENTS_HANDLE_OK;
}

/*
 * Echo copies input/Amount, whatever JSON it is, into shared/amount. A
 * value longer than the stack buffer is read again into one of its size:
 * the result stays pending until the next get.
 */
static int32_t echo(void) {
	char small[256];
	char *buf = small;
	int32_t n = bizevents_read("input/Amount", small, sizeof small);
	if (n < 0) {
		return bizevents_failf("get input/Amount: bizevents ABI error %d %s", (int)n, bizevents_errno_name(n));
	}
	if ((size_t)n >= sizeof small) {
		buf = malloc((size_t)n + 1);
		if (buf == NULL) {
			return bizevents_failf("no memory for an Amount of %d bytes", (int)n);
		}
		int32_t r = bizevents_host_result_read(buf, (size_t)n);
		if (r != n) {
			free(buf);
			return bizevents_failf("result_read: got %d, want %d", (int)r, (int)n);
		}
		buf[n] = '\0';
	}
	int32_t e = bizevents_host_set("shared/amount", strlen("shared/amount"), buf, (size_t)n);
	if (buf != small) {
		free(buf);
	}
	if (e < 0) {
		return bizevents_failf("set shared/amount: bizevents ABI error %d %s", (int)e, bizevents_errno_name(e));
	}
	bizevents_tracef("echoed %d bytes", (int)n);
	return BIZEVENTS_HANDLE_OK;
}

static const struct bizevents_handler handlers[] = {
	{"ValidatePurchase", validate_purchase},
	{"Echo", echo},
};

BIZEVENTS_EXPORT("bizevents_handle") int32_t bizevents_handle(void) {
	return bizevents_dispatch(handlers, sizeof handlers / sizeof handlers[0]);
}
