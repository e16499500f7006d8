//! Identifiers of the model's components and messages: one newtype each, so a server can
//! never be passed where a client is expected. [`IdVec`] is a vector indexed by one of them.

use std::marker::PhantomData;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl $name {
            /// The index of this id in its [`IdVec`].
            #[inline]
            pub fn ix(self) -> usize {
                self.0 as usize
            }
        }

        impl From<usize> for $name {
            #[inline]
            fn from(i: usize) -> Self {
                $name(i as $inner)
            }
        }
    };
}

id!(
    /// A homeserver.
    ServerId(u32)
);
id!(
    /// A client: one device of its own user, on one server.
    ClientId(u32)
);
id!(
    /// A room.
    RoomId(u32)
);
id!(
    /// An event (PDU) in the run's event store.
    PduId(u32)
);
id!(
    /// An event type (`m.rtc.member`, `m.beacon`, ...), by its index in the directory.
    EvType(u16)
);
id!(
    /// A federation `/send` transaction (unique over the run).
    TxnId(u64)
);
id!(
    /// An MSC4140 delayed event (unique over the run).
    DelayId(u64)
);

/// A tag the application layer (a workload) puts on a client request; the model hands it
/// back in the request's answer and in the probe of the event it created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReqTag {
    /// Which application (workload) sent it.
    pub app: u32,
    /// The application's own number (a MatrixRTC participant, say).
    pub token: u64,
}

/// A vector indexed by one kind of id.
#[derive(Clone, Debug)]
pub struct IdVec<I, T> {
    items: Vec<T>,
    _id: PhantomData<I>,
}

impl<I, T> Default for IdVec<I, T> {
    fn default() -> Self {
        IdVec {
            items: Vec::new(),
            _id: PhantomData,
        }
    }
}

impl<I: From<usize> + Copy, T> IdVec<I, T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_vec(items: Vec<T>) -> Self {
        IdVec {
            items,
            _id: PhantomData,
        }
    }

    /// Append `item`; returns its id.
    pub fn push(&mut self, item: T) -> I {
        self.items.push(item);
        I::from(self.items.len() - 1)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.items.iter_mut()
    }

    /// Every id, in order.
    pub fn ids(&self) -> impl Iterator<Item = I> + use<I, T> {
        (0..self.items.len()).map(I::from)
    }

    /// (id, item) pairs, in order.
    pub fn enumerate(&self) -> impl Iterator<Item = (I, &T)> {
        self.items.iter().enumerate().map(|(i, t)| (I::from(i), t))
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items
    }
}

macro_rules! index_by {
    ($name:ident) => {
        impl<T> std::ops::Index<$name> for IdVec<$name, T> {
            type Output = T;
            #[inline]
            fn index(&self, i: $name) -> &T {
                &self.items[i.ix()]
            }
        }
        impl<T> std::ops::IndexMut<$name> for IdVec<$name, T> {
            #[inline]
            fn index_mut(&mut self, i: $name) -> &mut T {
                &mut self.items[i.ix()]
            }
        }
    };
}

index_by!(ServerId);
index_by!(ClientId);
index_by!(RoomId);
index_by!(PduId);
