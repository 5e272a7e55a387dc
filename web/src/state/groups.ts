// Groups: the flows of a group's info panel. Changes reach every member as
// system messages, which the sync applies (names, roles, membership); these
// calls only ask for them.
import type { Role } from "../generated/protocol";
import type { Conversations } from "./conversations";
import type { Session } from "./session";

export class Groups {
  constructor(private readonly session: Session, private readonly conversations: Conversations) {}

  rename(id: number, name: string) { return this.session.api.updateGroup(id, { name: name.trim() }); }
  announce(id: number, text: string) { return this.session.api.updateGroup(id, { announcement: text.trim() }); }
  invite(id: number, userIds: number[]) { return this.session.api.invite(id, userIds); }
  setRole(id: number, userId: number, role: Role) { return this.session.api.setRole(id, userId, role); }
  transfer(id: number, userId: number) { return this.session.api.transfer(id, userId); }
  kick(id: number, userId: number) { return this.session.api.removeMember(id, userId); }

  async leave(id: number): Promise<void> {
    await this.session.api.removeMember(id, this.session.myId);
    this.conversations.forget(id);
  }
}
