use super::*;

#[test]
fn a_built_world_has_its_servers_clients_rooms_and_members() {
    let cfg = ServerCfg {
        clients_per_server: 2,
        ..cfg0()
    };
    let mut k = Builder::same(3, cfg).room("r", &["hs1", "hs2/1"]).build();
    let (hs1, hs2, r) = (k.server("hs1"), k.server("hs2"), k.room("r"));
    assert_eq!(k.world.servers.len(), 3);
    assert_eq!(k.world.clients.len(), 6);
    assert_eq!(k.world.sh.dir.clients[k.client("hs2/1")].server, hs2);
    let members: Vec<ClientId> = k.srv(hs1).rooms[&r].members.iter().copied().collect();
    assert_eq!(
        members,
        vec![k.client("hs1/0"), k.client("hs1/1"), k.client("hs2/1")]
    );
    assert!(k.srv(hs2).rooms.contains_key(&r));
    let hs3 = k.server("hs3");
    assert!(!k.srv(hs3).rooms.contains_key(&r));
    let creator = k.client("hs1/0");
    assert_eq!(k.srv(hs1).rooms[&r].power.get(&creator), Some(&100));
}
