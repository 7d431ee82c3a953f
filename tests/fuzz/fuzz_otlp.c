/* fuzz_otlp.c -- libFuzzer harness: OTLP trace and log requests (JSON and protobuf) and the /v1/events body on any bytes: rows or a reason, never a crash, never half a request. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "proto/evapi.h"
#include "proto/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct otlp_rows rows = { 0 };
	char err[256];
	int rc;

	if (!size)
		return 0;
	/* the first byte picks the decoder; the rest is the body */
	switch (data[0] % 5) {
	case 0:
		rc = otlp_traces_decode(data + 1, size - 1, OTLP_PROTOBUF, 1, &rows, err, sizeof(err));
		break;
	case 1:
		rc = otlp_traces_decode(data + 1, size - 1, OTLP_JSON, 1, &rows, err, sizeof(err));
		break;
	case 2:
		rc = otlp_logs_decode(data + 1, size - 1, OTLP_PROTOBUF, 1, &rows, err, sizeof(err));
		break;
	case 3:
		rc = otlp_logs_decode(data + 1, size - 1, OTLP_JSON, 1, &rows, err, sizeof(err));
		break;
	default:
		rc = evapi_decode(data + 1, size - 1, 1, &rows, err, sizeof(err));
		break;
	}
	/* all or nothing: a refused request leaves no row and says why */
	assert(rc >= 0 || (rows.n == 0 && err[0]));
	otlp_rows_free(&rows);
	return 0;
}
