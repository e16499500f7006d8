//! References between sections: servers, rooms and clients named elsewhere, regions and links.

use super::*;

impl Checker {
    pub(super) fn server(&mut self, path: &KeyPath, name: &str) {
        if !self.servers.contains_key(name) {
            self.push(path, format!("unknown server `{name}`"));
        }
    }

    pub(super) fn servers(&mut self, path: &KeyPath, names: &[String]) {
        for (i, n) in names.iter().enumerate() {
            self.server(&path.index(i), n);
        }
    }

    pub(super) fn room(&mut self, path: &KeyPath, name: &str) {
        if !self.rooms.contains_key(name) {
            self.push(path, format!("unknown room `{name}`"));
        }
    }

    /// A client is `server/index` with index < that server's `clients_per_server`.
    pub(super) fn client(&mut self, path: &KeyPath, name: &str) {
        let parsed = name
            .rsplit_once('/')
            .and_then(|(s, i)| i.parse::<u64>().ok().map(|i| (s, i)));
        let Some((server, index)) = parsed else {
            self.push(
                path,
                format!("`{name}` is not a client name (expected server/index, e.g. \"hs1/0\")"),
            );
            return;
        };
        match self.servers.get(server) {
            None => self.push(path, format!("unknown client `{name}`: no server `{server}`")),
            Some(&0) => self.push(
                path,
                format!("unknown client `{name}`: server `{server}` has no clients"),
            ),
            Some(&1) if index >= 1 => self.push(
                path,
                format!("unknown client `{name}`: server `{server}` has 1 client ({server}/0)"),
            ),
            Some(&n) if index >= u64::from(n) => self.push(
                path,
                format!(
                    "unknown client `{name}`: server `{server}` has {n} clients ({server}/0 to {server}/{})",
                    n - 1
                ),
            ),
            Some(_) => {}
        }
    }

    pub(super) fn nonempty_servers(&mut self, p: &KeyPath, servers: &[String]) {
        if servers.is_empty() {
            self.push(&p.key("servers"), "needs at least one server");
        }
        self.servers(&p.key("servers"), servers);
    }

    pub(super) fn network(&mut self, n: &NetworkCfg) {
        let p = KeyPath::root().key("network");
        self.dist(&p.key("latency"), &n.latency);
        self.probability(&p.key("loss"), n.loss);
        if let Some(h) = &n.hub {
            self.server(&p.key("hub"), h);
        }
        if let Some(l) = &n.intra_latency {
            self.dist(&p.key("intra_latency"), l);
        }
        if let Some(l) = &n.inter_latency {
            self.dist(&p.key("inter_latency"), l);
        }
        if n.topology == Topology::Regions && n.regions.is_empty() {
            self.push(
                &p.key("topology"),
                "`regions` needs at least one `network.regions` entry",
            );
        }
        let mut names = BTreeSet::new();
        // Server -> the region (name, index) that first lists it.
        let mut region_of: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
        for (i, r) in n.regions.iter().enumerate() {
            let rp = p.key("regions").index(i);
            if !names.insert(r.name.as_str()) {
                self.push(
                    &rp.key("name"),
                    format!("duplicate region name `{}`", r.name),
                );
            }
            self.servers(&rp.key("servers"), &r.servers);
            for (j, srv) in r.servers.iter().enumerate() {
                match region_of.get(srv.as_str()) {
                    Some(&(first, k)) => self.push(
                        &rp.key("servers").index(j),
                        if k == i {
                            format!("server `{srv}` is listed twice in region `{first}`")
                        } else {
                            format!(
                                "server `{srv}` is already in region `{first}` (network.regions[{k}]): a server is in one region"
                            )
                        },
                    ),
                    None => {
                        region_of.insert(srv, (&r.name, i));
                    }
                }
            }
        }
        // Unordered pair -> the first link that names it.
        let mut links: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (i, l) in n.link.iter().enumerate() {
            let lp = p.key("link").index(i);
            self.server(&lp.key("from"), &l.from);
            self.server(&lp.key("to"), &l.to);
            if l.from == l.to {
                self.push(&lp.key("to"), "a link joins two different servers");
            }
            let pair = if l.from <= l.to {
                (l.from.as_str(), l.to.as_str())
            } else {
                (l.to.as_str(), l.from.as_str())
            };
            if let Some(first) = links.get(&pair) {
                self.push(
                    &lp.key("to"),
                    format!(
                        "the pair `{}`-`{}` already has a link (network.link[{first}]); a link covers both directions",
                        l.from, l.to
                    ),
                );
            } else {
                links.insert(pair, i);
            }
            if let Some(d) = &l.latency {
                self.dist(&lp.key("latency"), d);
            }
            if let Some(x) = l.loss {
                self.probability(&lp.key("loss"), x);
            }
        }
    }

    pub(super) fn rooms(&mut self, file: &ScenarioFile) {
        let mut seen = BTreeSet::new();
        for (i, r) in file.rooms.iter().enumerate() {
            let p = KeyPath::root().key("rooms").index(i);
            if !seen.insert(r.name.as_str()) {
                self.push(&p.key("name"), format!("duplicate room name `{}`", r.name));
            }
            if let ServerSet::List(list) = &r.servers {
                if list.is_empty() {
                    self.push(&p.key("servers"), "a room needs at least one server");
                }
                self.servers(&p.key("servers"), list);
            }
            for (j, c) in r.absent.iter().enumerate() {
                let before = self.out.len();
                let cp = p.key("absent").index(j);
                self.client(&cp, c);
                if self.out.len() == before {
                    let server = c.rsplit_once('/').map(|(s, _)| s).unwrap_or("");
                    let in_room = match &r.servers {
                        ServerSet::All(_) => true,
                        ServerSet::List(l) => l.iter().any(|s| s == server),
                    };
                    if !in_room {
                        self.push(
                            &cp,
                            format!("`{c}` is not a client of this room's servers, so it cannot be absent from it"),
                        );
                    }
                }
            }
            if let Some(pl) = &r.power_levels {
                let pp = p.key("power_levels");
                if let Some(c) = &pl.creator {
                    self.client(&pp.key("creator"), c);
                }
                for u in pl.users.keys() {
                    let before = self.out.len();
                    self.client(&pp.key("users").key(u), u);
                    for p in &mut self.out[before..] {
                        p.at_key = true;
                    }
                }
            }
        }
    }

    /// Clients of the room's servers (0 when the room is unknown).
    pub(super) fn room_clients(&self, file: &ScenarioFile, room: &str) -> u64 {
        let Some(r) = self.rooms.get(room).and_then(|&i| file.rooms.get(i)) else {
            return 0;
        };
        match &r.servers {
            ServerSet::All(_) => self.servers.values().map(|&n| u64::from(n)).sum(),
            ServerSet::List(l) => l
                .iter()
                .filter_map(|s| self.servers.get(s))
                .map(|&n| u64::from(n))
                .sum(),
        }
    }

    pub(super) fn needs_clients(
        &mut self,
        file: &ScenarioFile,
        path: &KeyPath,
        room: &str,
        n: u32,
    ) {
        if n > 0 && self.rooms.contains_key(room) && self.room_clients(file, room) == 0 {
            self.push(
                path,
                format!("room `{room}` has no clients to act for (its servers have clients_per_server = 0)"),
            );
        }
    }
}
