/** A FIFO queue with O(1) push and shift, used for FIFO pin pairing (R7). */
export class Deque<A> {
  private items: Array<A> = []
  private head = 0

  get size(): number {
    return this.items.length - this.head
  }

  push(item: A): void {
    this.items.push(item)
  }

  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined as A
    this.head++
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }

  /** Removes one item wherever it is (rare: only when an execution leaves the queue out of turn). */
  remove(item: A): void {
    const i = this.items.indexOf(item, this.head)
    if (i >= 0) this.items.splice(i, 1)
  }
}
