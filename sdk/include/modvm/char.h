/*
 * modvm/char.h - the character stream interfaces of a serial LUN chain.
 *
 *   serial device  --(pdm_ichar_connector)-->  char driver  --(pdm_istream)-->  stdio/file
 *   serial device  <--(pdm_ichar_port)------  char driver
 *
 * Output is pushed down: the device calls connector->write on its EMT while it holds
 * its device lock; the char driver hands the bytes to the stream. Input is pulled: the
 * char driver's worker thread reads the stream into a buffer and calls
 * port->data_available; the device, under its lock, pulls bytes with connector->read
 * when it has room. Nothing is dropped: the char driver stops reading the stream
 * while its buffer is full.
 *
 * Lock order: device lock, then the char driver's internal lock. data_available is
 * called with no char driver lock held.
 */
#ifndef MODVM_CHAR_H
#define MODVM_CHAR_H

#include <stddef.h>
#include <stdint.h>

/* Implemented by the device above a char driver. */
#define PDM_ICHAR_PORT_IID "modvm.ichar-port.v1"
struct pdm_ichar_port {
	/*
	 * Input is waiting in the char driver. Called on the char driver's worker thread;
	 * the device takes its own lock (pdm_dev_hlp.lock) before touching its state and
	 * pulls the bytes with pdm_ichar_connector.read.
	 */
	void (*data_available)(struct pdm_ichar_port *port);
};

/* Implemented by the char driver, for the device above. */
#define PDM_ICHAR_CONNECTOR_IID "modvm.ichar-connector.v1"
struct pdm_ichar_connector {
	/*
	 * Writes len bytes of guest output. Returns PDM_OK once every byte is handed to the
	 * stream, or a negative status (the bytes are then lost, and the driver counts it).
	 * Called on an EMT with the device lock held.
	 */
	int (*write)(struct pdm_ichar_connector *conn, const void *buf, size_t len);
	/*
	 * Copies up to len bytes of buffered input into buf and returns how many; 0 when
	 * none is waiting. Never blocks. Any thread.
	 */
	size_t (*read)(struct pdm_ichar_connector *conn, void *buf, size_t len);
};

/* Poll events of pdm_istream.poll. */
#define PDM_STREAM_READABLE 0x1u
#define PDM_STREAM_WRITABLE 0x2u

/* Implemented by stream drivers (stdio, file, ...), for the char driver above. */
#define PDM_ISTREAM_IID "modvm.istream.v1"
struct pdm_istream {
	/*
	 * Reads up to *len bytes without blocking; sets *len to the count read (0 when
	 * nothing is waiting). Returns PDM_ERR_EOF once the input has ended for good (the
	 * caller stops polling for input), PDM_ERR_NOT_SUPPORTED for an output-only stream.
	 */
	int (*read)(struct pdm_istream *stream, void *buf, size_t *len);
	/* Writes all len bytes, blocking as needed; PDM_ERR_IO on failure. */
	int (*write)(struct pdm_istream *stream, const void *buf, size_t len);
	/*
	 * Waits until one of the PDM_STREAM_* events is ready or timeout_ms passes (-1:
	 * forever). Sets *ready to the events that are ready. Returns PDM_ERR_INTERRUPTED
	 * after interrupt() and PDM_ERR_TIMEOUT after the timeout. Called on one thread at
	 * a time (the char driver's worker).
	 */
	int (*poll)(struct pdm_istream *stream, uint32_t events, uint32_t *ready, int timeout_ms);
	/* Makes a blocked or the next poll return PDM_ERR_INTERRUPTED. Any thread. */
	int (*interrupt)(struct pdm_istream *stream);
};

#endif
