/**
 * A network interface: a name, a link, its MTU and its addresses. IPv4 and
 * IPv6 addresses are kept apart so that source selection looks at one family.
 */
import type { Link } from '../link/link.js';
import type { IpAddr } from '../wire/addr.js';

export interface IfAddr {
  addr: IpAddr;
  prefixLen: number;
}

export class NetInterface {
  readonly name: string;
  readonly index: number;
  readonly link: Link;
  mtu: number;
  /** Loopback interface: addresses in its prefixes are all local (Linux
   *  treats all of 127.0.0.0/8 as local on lo), ICMP errors to it are not
   *  rate-limited per host. */
  readonly loopback: boolean;
  readonly v4: IfAddr[] = [];
  readonly v6: IfAddr[] = [];
  private isUp = true;
  /** Changes whenever any interface goes up or down: route caches compare it. */
  static upDownVersion = 0;

  get up(): boolean {
    return this.isUp;
  }

  set up(v: boolean) {
    if (v !== this.isUp) NetInterface.upDownVersion++;
    this.isUp = v;
  }

  constructor(name: string, index: number, link: Link, mtu: number, loopback: boolean) {
    this.name = name;
    this.index = index;
    this.link = link;
    this.mtu = mtu;
    this.loopback = loopback;
  }

  addrs(family: 4 | 6): IfAddr[] {
    return family === 4 ? this.v4 : this.v6;
  }
}
