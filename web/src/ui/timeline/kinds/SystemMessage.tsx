import type { Message, SystemEvent } from "../../../generated/protocol";
import type { Names } from "../../../vm/names";
import { systemText } from "../../system";

/** A group event, centred in the timeline instead of a bubble. */
export function SystemMessage({ message, event, names }: { message: Message; event: SystemEvent; names: Names }) {
  return <div class="system-msg" data-seq={message.seq}><span>{systemText(event, names)}</span></div>;
}
