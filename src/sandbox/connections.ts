/**
 * The sandbox's sockets and timers: idle keep-alive connections are closed after idleTimeoutMs, as the live service
 * does at 5 s (a connection serving a request is never idle), and the delays faults ask for can all be cut short
 * when the sandbox closes.
 */
import type {IncomingMessage, Server, ServerResponse} from 'node:http'
import type {Socket} from 'node:net'

interface Conn {
  timer: NodeJS.Timeout | undefined
  inFlight: number
}

export class Connections {
  private readonly conns = new Map<Socket, Conn>()
  private readonly delays = new Set<{timer: NodeJS.Timeout; resolve: () => void}>()

  constructor(
    server: Server,
    private readonly idleTimeoutMs: number,
  ) {
    server.on('connection', (socket: Socket) => {
      const conn: Conn = {timer: undefined, inFlight: 0}
      this.conns.set(socket, conn)
      this.armIdle(socket, conn)
      socket.on('close', () => {
        if (conn.timer) clearTimeout(conn.timer)
        this.conns.delete(socket)
      })
    })
  }

  /** A request started on its socket: not idle until its response closes. */
  requestStarted(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket
    const conn = this.conns.get(socket)
    if (!conn) return
    conn.inFlight++
    if (conn.timer) clearTimeout(conn.timer)
    conn.timer = undefined
    res.once('close', () => {
      conn.inFlight--
      if (conn.inFlight === 0 && !socket.destroyed) this.armIdle(socket, conn)
    })
  }

  /** Waits `ms` (a `delay` fault), or less if the sandbox closes first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.delays.delete(entry)
          resolve()
        }, ms),
        resolve,
      }
      this.delays.add(entry)
    })
  }

  /** Destroys every socket and ends every delay. */
  closeAll(): void {
    for (const [socket, conn] of this.conns) {
      if (conn.timer) clearTimeout(conn.timer)
      socket.destroy()
    }
    for (const entry of this.delays) {
      clearTimeout(entry.timer)
      entry.resolve()
    }
    this.delays.clear()
  }

  private armIdle(socket: Socket, conn: Conn): void {
    if (conn.timer) clearTimeout(conn.timer)
    conn.timer = setTimeout(() => socket.destroy(), this.idleTimeoutMs)
    conn.timer.unref()
  }
}
