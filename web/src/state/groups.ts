// Groups: the flows of a group's info panel. Changes reach every member as
// system messages, which the store applies (names, roles, membership); these
// calls only ask for them.
import type { Role } from "../generated/protocol";
import type { ChatStore } from "./store";

export class Groups {
  constructor(private readonly store: ChatStore) {}

  rename(id: number, name: string) { return this.store.api.updateGroup(id, { name: name.trim() }); }
  announce(id: number, text: string) { return this.store.api.updateGroup(id, { announcement: text.trim() }); }
  invite(id: number, userIds: number[]) { return this.store.api.invite(id, userIds); }
  setRole(id: number, userId: number, role: Role) { return this.store.api.setRole(id, userId, role); }
  transfer(id: number, userId: number) { return this.store.api.transfer(id, userId); }
  kick(id: number, userId: number) { return this.store.api.removeMember(id, userId); }

  async leave(id: number): Promise<void> {
    await this.store.api.removeMember(id, this.store.myId);
    this.store.forgetConversation(id);
  }
}
