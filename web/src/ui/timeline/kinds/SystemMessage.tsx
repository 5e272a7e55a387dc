import type { Message, SystemEvent } from "../../../generated/protocol";
import { systemText } from "../../system";

/** A group event, centred in the timeline instead of a bubble. */
export function SystemMessage({ message, event }: { message: Message; event: SystemEvent }) {
  return <div class="system-msg" data-seq={message.seq}><span>{systemText(event)}</span></div>;
}
